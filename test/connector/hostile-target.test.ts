/**
 * A target that is not who it claims to be: the connector must not report `ready` (and so must
 * not hand a session to it) unless the server proved it knows the SCRAM verifier, and must not
 * accept bytes injected before a TLS handshake. Real PostgreSQL never behaves like this, so the
 * target here is a small scripted TCP peer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";

type Behaviour = "skip-final" | "bad-signature" | "ssl-stuffing";

function authMessage(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + body.length);
  out.write("R", 0, "latin1");
  out.writeUInt32BE(8 + body.length, 1);
  out.writeUInt32BE(code, 5);
  body.copy(out, 9);
  return out;
}

function scriptedTarget(behaviour: Behaviour, sockets: Set<Socket>): Server {
  return createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let buffered = Buffer.alloc(0);
    let step = 0;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (behaviour === "ssl-stuffing") {
        // Answer SSLRequest with 'S' plus bytes an attacker wants the client to treat as post-TLS.
        socket.write(Buffer.concat([Buffer.from("S"), authMessage(0)]));
        return;
      }
      if (step === 0 && buffered.length >= 4 && buffered.length >= buffered.readUInt32BE(0)) {
        buffered = buffered.subarray(buffered.readUInt32BE(0));
        step = 1;
        socket.write(authMessage(10, Buffer.from("SCRAM-SHA-256\0\0")));
        return;
      }
      if (step === 1 && buffered.length >= 5 && buffered.length >= 1 + buffered.readUInt32BE(1)) {
        const text = buffered.subarray(5, 1 + buffered.readUInt32BE(1)).toString("latin1");
        buffered = buffered.subarray(1 + buffered.readUInt32BE(1));
        const nonce = /r=([^,]+)/.exec(text)![1];
        step = 2;
        socket.write(authMessage(11, Buffer.from(`r=${nonce}SERVERPART,s=QUJDREVGR0g=,i=4096`)));
        return;
      }
      if (step === 2 && buffered.length >= 5 && buffered.length >= 1 + buffered.readUInt32BE(1)) {
        step = 3;
        const ready = Buffer.from([0x5a, 0, 0, 0, 5, 0x49]);
        if (behaviour === "skip-final") socket.write(Buffer.concat([authMessage(0), ready]));
        else socket.write(Buffer.concat([authMessage(12, Buffer.from("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")), authMessage(0), ready]));
      }
    });
  });
}

describe("connector against a hostile target", () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  let stack: ConnectorStack;

  beforeAll(async () => {
    const resources = [];
    for (const behaviour of ["skip-final", "bad-signature", "ssl-stuffing"] as const) {
      const server = scriptedTarget(behaviour, sockets);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      servers.push(server);
      const port = (server.address() as AddressInfo).port;
      resources.push(
        pgResource(behaviour, { host: "127.0.0.1", port, database: "d", user: "u", password: "target-password" }, { tls: { mode: behaviour === "ssl-stuffing" ? "require" : "disable" } }),
      );
    }
    stack = await startConnectorStack(resources);
  });
  afterAll(async () => {
    await stack?.stop();
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("refuses AuthenticationOk without the SCRAM server signature", async () => {
    const stream = await stack.worker.openStream(stack.control, "skip-final");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "28000" });
    expect(String(error.message)).toMatch(/resource skip-final: .*SCRAM server signature/);
  });

  it("refuses a wrong SCRAM server signature", async () => {
    const stream = await stack.worker.openStream(stack.control, "bad-signature");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "28000" });
    expect(String(error.message)).toMatch(/resource bad-signature: SCRAM authentication failed: server signature does not match/);
    expect(JSON.stringify(error)).not.toContain("target-password");
  });

  it("refuses bytes injected after the SSLRequest answer (CVE-2021-23222)", async () => {
    const stream = await stack.worker.openStream(stack.control, "ssl-stuffing");
    const error = await stream.controls.next();
    expect(error).toMatchObject({ t: "error", code: "08P01" });
    expect(String(error.message)).toContain("resource ssl-stuffing");
  });
});
