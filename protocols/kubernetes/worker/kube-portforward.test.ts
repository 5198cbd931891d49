/**
 * The port-forward state machine in the worker (KubePortForward): WebSocket messages in both
 * directions, re-framed; each kubectl stream decided by its port; a refused stream answered by
 * the gateway (never relayed) while the rest of the session goes on; the trail's stream and end
 * events. kubectl's and the API server's header blocks are written here with stored blocks (any
 * valid zlib stream does; Node's zlib is not in workerd) and read back with the gateway's own
 * inflater, as each peer would.
 */
import { describe, expect, it } from "vitest";
import { KubePortForward } from "./kube-portforward.ts";
import type { EngineHost } from "../../../worker/engines/engine.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import { encodeFrame, WebSocketMessageReader } from "../codec/websocket-frames.ts";
import { dataFrame, SpdyHeaderInflater } from "../codec/spdy.ts";
import { encodeNameValues, StoredHeaderEncoder } from "../codec/spdy-stored.ts";
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

const allow: Decision = { effect: "allow", rule: "db-tunnel", reason: "rule 'db-tunnel' allows it", matched: [] };
const deny: Decision = { effect: "deny", rule: null, reason: "no rule allows port 5432; default deny", matched: [] };

function setup() {
  const toClient: Uint8Array[] = [];
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const host = {
    sendToClient: (parts: readonly Uint8Array[]) => toClient.push(...parts),
    audit: { onEvent: async (type: string, data: Record<string, unknown>) => void events.push({ type, data }) },
    end: () => {
      throw new Error("the session must not end");
    },
  } as unknown as EngineHost;
  const pf = new KubePortForward(host, (port) => (port === 8080 ? allow : deny), false);
  const kubectlHeaders = new StoredHeaderEncoder();
  const serverHeaders = new StoredHeaderEncoder();
  const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const control = (type: number, body: number[] | Uint8Array) => Uint8Array.from([0x80, 3, 0, type, 0, 0, (body.length >> 8) & 255, body.length & 255, ...body]);
  const syn = (id: number, type: string, port: string, requestId: string) =>
    control(1, [...u32(id), ...u32(0), 0, 0, ...kubectlHeaders.encode(encodeNameValues(new Map([["streamtype", type], ["port", port], ["requestid", requestId]])))]);
  const reply = (id: number) => control(2, [...u32(id), ...serverHeaders.encode(encodeNameValues(new Map()))]);
  const fromKubectl = (...frames: Uint8Array[]) => pf.pushFromClient(encodeFrame(2, concatBytes(frames), true));
  const fromServer = (...frames: Uint8Array[]) => pf.pushFromUpstream(encodeFrame(2, concatBytes(frames), false));
  return { pf, toClient, events, syn, reply, fromKubectl, fromServer };
}

/** One side's reader of the frames the gateway relays to it (its own inflater follows every header block). */
function peer(fromClient: boolean) {
  const ws = new WebSocketMessageReader(fromClient, { keepControl: true });
  const inflater = new SpdyHeaderInflater();
  let buf = new Uint8Array(0);
  return (parts: readonly Uint8Array[]) => {
    const out: string[] = [];
    for (const m of ws.push(concatBytes(parts))) {
      if (m.control !== undefined) {
        out.push(`ws-control:${m.control}`);
        continue;
      }
      buf = concatBytes([buf, m.data]);
      while (buf.length >= 8) {
        const len = (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!;
        if (buf.length < 8 + len) break;
        const f = buf.subarray(0, 8 + len);
        buf = buf.slice(8 + len);
        const id = ((f[0]! << 24) | (f[1]! << 16) | (f[2]! << 8) | f[3]!) & 0x7fffffff;
        const fin = (f[4]! & 1) === 1 ? "+fin" : "";
        if ((f[0]! & 0x80) === 0) {
          out.push(`data ${id}${fin}:${new TextDecoder().decode(f.subarray(8)).slice(0, 45)}`);
          continue;
        }
        const type = f[3]!;
        const sid = ((f[8]! << 24) | (f[9]! << 16) | (f[10]! << 8) | f[11]!) & 0x7fffffff;
        if (type === 1) out.push(`syn ${sid} port=${inflater.inflate(f.subarray(18)).get("port")}`);
        else if (type === 2) out.push(`reply ${sid}${fin} headers=${inflater.inflate(f.subarray(12)).size}`);
        else out.push(`control ${type}`);
      }
    }
    return out;
  };
}

describe("KubePortForward (the worker's port-forward state machine)", () => {
  it("relays allowed streams re-encoded, answers a refused one itself, and the session goes on", async () => {
    const t = setup();
    const server = peer(true);
    const kubectl = peer(false);
    expect(server(await t.fromKubectl(t.syn(1, "error", "8080", "0"), t.syn(3, "data", "8080", "0"), dataFrame(3, new TextEncoder().encode("ping"), false)))).toEqual(["syn 1 port=8080", "syn 3 port=8080", "data 3:ping"]);
    expect(kubectl(await t.fromServer(t.reply(1), t.reply(3), dataFrame(3, new TextEncoder().encode("pong"), false)))).toEqual(["reply 1 headers=0", "reply 3 headers=0", "data 3:pong"]);
    // 5432: nothing reaches the server; kubectl gets the gateway's answer on both streams.
    expect(server(await t.fromKubectl(t.syn(5, "error", "5432", "1"), dataFrame(5, new Uint8Array(0), true), t.syn(7, "data", "5432", "1"), dataFrame(7, new TextEncoder().encode("leak"), false)))).toEqual([]);
    expect(kubectl(t.toClient.splice(0))).toEqual(["reply 5 headers=0", "data 5+fin:", "reply 7 headers=0", "data 7+fin:gatehouse: port 5432 is not allowed by policy"]);
    // Later streams and the server's later header blocks stay in step on both sides.
    expect(server(await t.fromKubectl(t.syn(9, "data", "8080", "2")))).toEqual(["syn 9 port=8080"]);
    expect(kubectl(await t.fromServer(t.reply(9)))).toEqual(["reply 9 headers=0"]);
    // WebSocket control frames pass in order.
    expect(server(await t.pf.pushFromClient(encodeFrame(0x9, Uint8Array.of(1, 2), true)))).toEqual(["ws-control:9"]);
    await t.pf.close();
    expect(t.events.filter((e) => e.type === "k8s.portforward.stream").map((e) => [e.data.stream, e.data.port, e.data.effect, e.data.rule])).toEqual([
      [1, 8080, "allow", "db-tunnel"],
      [3, 8080, "allow", "db-tunnel"],
      [5, 5432, "deny", null],
      [7, 5432, "deny", null],
      [9, 8080, "allow", "db-tunnel"],
    ]);
    expect(t.events.at(-1)).toEqual({ type: "k8s.portforward.end", data: { requested: [8080, 5432], allowed: [8080], refused: [5432] } });
  });

  it("waits for the end of a server DATA frame before answering a refused stream", async () => {
    const t = setup();
    const kubectl = peer(false);
    await t.fromKubectl(t.syn(1, "data", "8080", "0"));
    const big = dataFrame(1, new Uint8Array(100).fill(120), false);
    const first = kubectl(await t.fromServer(t.reply(1), big.subarray(0, 40)));
    expect(first).toEqual(["reply 1 headers=0"]);
    await t.fromKubectl(t.syn(3, "data", "5432", "1"));
    expect(t.toClient).toEqual([]); // not in the middle of the server's DATA frame
    expect(kubectl(await t.fromServer(big.subarray(40)))).toEqual([`data 1:${"x".repeat(45)}`, "reply 3 headers=0", "data 3+fin:gatehouse: port 5432 is not allowed by policy"]);
  });

  it("text messages and undecodable frames end the session (reject before anything is relayed)", async () => {
    const t = setup();
    await expect(t.pf.pushFromClient(encodeFrame(1, new TextEncoder().encode("hi"), true))).rejects.toThrow(/text message/);
    const u = setup();
    await expect(u.pf.pushFromClient(encodeFrame(2, Uint8Array.of(0x80, 3, 0, 1, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0), true))).rejects.toThrow(/zlib|short/);
  });
});
