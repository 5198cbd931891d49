/**
 * The target's greeting version, learned before the listener's first greeting.
 *
 * A MySQL greeting is the first packet of a connection, sent before the client authenticates —
 * before any tunnel exists — and clients pick dialect behaviour from it (mysql2 and Connector/J
 * detect MariaDB by it). So when a listener starts, it opens one short session of its own: the
 * worker decides the connect (recorded, with the listener's identity), the connector logs in with
 * the access level's account, the session reports the server's version (`mysql-server` control
 * message) and answers OK; the probe then quits (COM_QUIT). The session is marked with a
 * connection attribute so the trail says why it opened. The listener's first local connection
 * waits for this probe before it is greeted (client/engine.ts).
 */
import { Duplex } from "node:stream";
import type WebSocket from "ws";
import { bridge, describeTunnelEnd } from "../../../client/tunnel/bridge.ts";
import { PacketFramer, encodePacket } from "../codec/packets.ts";
import { CLIENT, GATEWAY_CAPABILITIES, PROBE_ATTRIBUTE } from "../codec/constants.ts";
import { encodeHandshakeResponse41 } from "../codec/handshake.ts";
import { decodeErr, isErr } from "../codec/responses.ts";

/** A version string the listener may greet with: short and printable (it goes into every greeting). */
export function greetableVersion(v: unknown): v is string {
  return typeof v === "string" && /^[\x20-\x7e]{1,100}$/.test(v);
}

const PROBE_COLLATION = 45; // utf8mb4_general_ci
const COM_QUIT = Uint8Array.of(0x01);

/** Resolves with the target's greeting version, or rejects saying why the session could not report it. */
export async function probeServerVersion(openTunnel: () => Promise<WebSocket>, timeoutMs = 30_000): Promise<string> {
  const ws = await openTunnel();
  let version: string | null = null;
  let failure: string | null = null;
  const framer = new PacketFramer(1 << 16);
  // The bridge's "local client": reads the session's answer to the handshake, then quits.
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      try {
        for (const p of framer.push(new Uint8Array(chunk))) {
          if (isErr(p.payload)) failure = decodeErr(p.payload).message;
          else if (p.payload[0] !== 0x00) failure = "unexpected answer to the handshake";
          // The session answered the handshake: quit (the worker ends the session, the bridge ends).
          this.push(encodePacket(0, COM_QUIT));
        }
      } catch (e) {
        failure = (e as Error).message;
        this.push(null);
      }
      done();
    },
  });
  const capabilities = (GATEWAY_CAPABILITIES & ~CLIENT.LOCAL_FILES & ~CLIENT.CONNECT_WITH_DB) >>> 0;
  const initial = encodePacket(1, encodeHandshakeResponse41({ capabilities, maxPacket: 1 << 24, charset: PROBE_COLLATION, user: "gatehouse-greeting-probe", authResponse: new Uint8Array(0), database: null, authPlugin: "mysql_native_password", attributes: new Map([[PROBE_ATTRIBUTE, "1"]]) }));
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  try {
    const result = await bridge({
      ws,
      socket,
      initial,
      onControl: (message) => {
        if (message.t === "mysql-server" && greetableVersion(message.version)) version = message.version;
      },
    });
    if (version) return version;
    throw new Error(failure ?? `the session ended before it reported the server's version (${describeTunnelEnd(result.end)})`);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}
