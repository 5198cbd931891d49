/**
 * A transparent loopback TCP relay that keeps every byte it forwards, in both directions.
 * Placed between two Gatehouse components, it shows exactly what one side could observe.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpCapture {
  port: number;
  /** Every byte that went through, both directions, concatenated in arrival order. */
  bytes(): Buffer;
  /** Close the listener and every relayed connection. */
  stop(): Promise<void>;
  /** Destroy every relayed connection now (simulates a network drop). */
  dropConnections(): void;
}

export async function startTcpCapture(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpCapture> {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect(targetPort, targetHost);
    sockets.add(inbound).add(outbound);
    const forget = () => {
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on("data", (d) => {
      chunks.push(Buffer.from(d));
      outbound.write(d);
    });
    outbound.on("data", (d) => {
      chunks.push(Buffer.from(d));
      inbound.write(d);
    });
    inbound.on("close", () => {
      outbound.destroy();
      forget();
    });
    outbound.on("close", () => {
      inbound.destroy();
      forget();
    });
    inbound.on("error", () => outbound.destroy());
    outbound.on("error", () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    bytes: () => Buffer.concat(chunks),
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
