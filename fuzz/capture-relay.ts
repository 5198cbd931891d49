/** A loopback TCP relay for fuzz/capture.ts that keeps each session's bytes per direction. */
import { createServer, connect, type Socket } from "node:net";

export interface Capture {
  port: number;
  sessions: Array<{ up: Buffer[]; down: Buffer[] }>;
  stop(): Promise<void>;
}
export async function relay(targetPort: number): Promise<Capture> {
  const sessions: Capture["sessions"] = [];
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const s = { up: [] as Buffer[], down: [] as Buffer[] };
    sessions.push(s);
    const outbound = connect(targetPort, "127.0.0.1");
    sockets.add(inbound).add(outbound);
    inbound.on("data", (d) => (s.up.push(Buffer.from(d)), outbound.write(d)));
    outbound.on("data", (d) => (s.down.push(Buffer.from(d)), inbound.write(d)));
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as { port: number }).port,
    sessions,
    stop: () => new Promise((r) => (sockets.forEach((s) => s.destroy()), server.close(() => r()))),
  };
}

