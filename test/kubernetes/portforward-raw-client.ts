/**
 * TEST HARNESS — a hand-written port-forward client, for what the real kubectl never sends:
 * TLS to `gatehouse connect` with the kubeconfig's client certificate, the WebSocket upgrade with
 * `SPDY/3.1+portforward.k8s.io`, then SPDY/3.1 frames written byte for byte (header blocks
 * compressed with Node's zlib and the SPDY/3 dictionary, one context, sync flush per block, as
 * Go's spdystream does). It reads the gateway's answer the way kubectl would (Node's inflater).
 */
import { connect, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { constants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY } from "../kube-apiserver/spdy.ts";

function flushed(z: Deflate | Inflate, input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    z.on("data", onData);
    z.once("error", reject);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      z.off("error", reject);
      resolve(Buffer.concat(out));
    });
  });
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** A name/value block as written (repeated names, any case, NULs: whatever the test wants). */
export function nameValues(entries: Array<[string, string]>): Buffer {
  return Buffer.concat([u32(entries.length), ...entries.flatMap(([k, v]) => [u32(Buffer.byteLength(k, "latin1")), Buffer.from(k, "latin1"), u32(Buffer.byteLength(v, "latin1")), Buffer.from(v, "latin1")])]);
}

export function controlFrame(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(body.length, 4);
  head[4] = flags;
  return Buffer.concat([head, body]);
}

export function dataFrame(id: number, payload: string | Buffer, fin = false): Buffer {
  const p = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(p.length, 4);
  head[4] = fin ? 1 : 0;
  return Buffer.concat([head, p]);
}

export interface ServerFrame {
  type: "data" | "syn_reply" | "rst" | "other";
  id: number;
  fin: boolean;
  payload: string;
}

export interface RawPortForward {
  /** A SYN_STREAM with these headers, compressed in this client's context. */
  syn(id: number, headers: Array<[string, string]>): Promise<Buffer>;
  /** Send SPDY bytes (one masked WebSocket binary message). */
  send(bytes: Buffer): void;
  /** Frames the gateway sent so far. */
  frames: ServerFrame[];
  /** Resolves when the connection is closed (by the gateway). */
  closed: Promise<void>;
  close(): void;
}

function kubeconfigField(text: string, key: string): Buffer {
  const m = new RegExp(`${key}: (\\S+)`).exec(text);
  if (!m) throw new Error(`kubeconfig has no ${key}`);
  return Buffer.from(m[1]!, "base64");
}

export async function openRawPortForward(kubeconfig: string, path: string): Promise<RawPortForward> {
  const text = readFileSync(kubeconfig, "utf8");
  const server = /server: https:\/\/([^:]+):(\d+)/.exec(text)!;
  const socket: TLSSocket = connect({
    host: server[1],
    port: Number(server[2]),
    ca: kubeconfigField(text, "certificate-authority-data"),
    cert: kubeconfigField(text, "client-certificate-data"),
    key: kubeconfigField(text, "client-key-data"),
    ALPNProtocols: ["http/1.1"],
    servername: "localhost",
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${server[1]}:${server[2]}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  const head = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const h = buf.subarray(0, end).toString();
      buf = buf.subarray(end + 4);
      resolve(h);
    };
    socket.on("data", onData);
    socket.once("error", reject);
    socket.once("close", () => reject(new Error(`closed before the upgrade answer: ${buf.toString()}`)));
  });
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${head}\n${buf.toString()}`);

  const deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  const inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  const frames: ServerFrame[] = [];
  let spdy = Buffer.alloc(0);
  let ws = buf;
  let queue = Promise.resolve();
  const readSpdy = async () => {
    while (spdy.length >= 8 && spdy.length >= 8 + (spdy.readUInt32BE(4) & 0xffffff)) {
      const len = spdy.readUInt32BE(4) & 0xffffff;
      const f = spdy.subarray(0, 8 + len);
      spdy = spdy.subarray(8 + len);
      const fin = (f[4]! & 1) === 1;
      if ((f[0]! & 0x80) === 0) {
        frames.push({ type: "data", id: f.readUInt32BE(0), fin, payload: f.subarray(8).toString() });
        continue;
      }
      const type = f.readUInt16BE(2);
      const id = len >= 4 ? f.readUInt32BE(8) & 0x7fffffff : 0;
      if (type === 2) await flushed(inflate, f.subarray(12)); // kubectl's inflater follows every header block
      frames.push({ type: type === 2 ? "syn_reply" : type === 3 ? "rst" : "other", id, fin, payload: "" });
    }
  };
  const onWs = () => {
    for (;;) {
      if (ws.length < 2) return;
      let len = ws[1]! & 0x7f;
      let p = 2;
      if (len === 126) {
        if (ws.length < 4) return;
        len = ws.readUInt16BE(2);
        p = 4;
      } else if (len === 127) {
        if (ws.length < 10) return;
        len = Number(ws.readBigUInt64BE(2));
        p = 10;
      }
      if (ws.length < p + len) return;
      const opcode = ws[0]! & 0x0f;
      const payload = ws.subarray(p, p + len);
      ws = ws.subarray(p + len);
      if (opcode === 2 || opcode === 0) {
        spdy = Buffer.concat([spdy, payload]);
        queue = queue.then(readSpdy);
      }
    }
  };
  socket.on("data", (d: Buffer) => {
    ws = Buffer.concat([ws, d]);
    onWs();
  });
  onWs();
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  return {
    syn: async (id, headers) => controlFrame(1, 0, Buffer.concat([u32(id), u32(0), Buffer.alloc(2), await flushed(deflate, nameValues(headers))])),
    send: (bytes) => {
      const key = randomBytes(4);
      const n = bytes.length;
      const len = n < 126 ? Buffer.from([0x80 | n]) : n < 65536 ? Buffer.from([0x80 | 126, n >> 8, n & 255]) : Buffer.concat([Buffer.from([0x80 | 127]), Buffer.from(new BigUint64Array([BigInt(n)]).buffer).reverse()]);
      const masked = Buffer.from(bytes);
      for (let i = 0; i < n; i++) masked[i]! ^= key[i & 3]!;
      socket.write(Buffer.concat([Buffer.from([0x82]), len, key, masked]));
    },
    frames,
    closed,
    close: () => socket.destroy(),
  };
}
