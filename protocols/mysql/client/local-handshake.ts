/**
 * The local listener's side of the MySQL connection phase: the listener, not the database,
 * authenticates the local client, with a per-listener password (client/listener-auth/). Like the
 * server, it keeps only SHA1(SHA1(password)) and checks the client's mysql_native_password proof
 * against a fresh scramble — the password itself never crosses the socket, not even on loopback.
 * A client that starts with another plugin (caching_sha2_password on MySQL 8 clients) is switched
 * to mysql_native_password. TLS and compression are not offered on loopback; only UTF-8 client
 * character sets are accepted (the gateway decodes statements as UTF-8, exactly).
 *
 * Codec-level and socket-free: the listener feeds it packets and writes what it returns.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CLIENT, GATEWAY_CAPABILITIES, isUtf8Collation } from "../codec/constants.ts";

export { isUtf8Collation };
import { decodeHandshakeResponse41, encodeAuthSwitchRequest, encodeHandshakeV10 } from "../codec/handshake.ts";
import { encodeOk, refusal } from "../codec/responses.ts";
import { encodePacket, type Packet } from "../codec/packets.ts";


export function doubleSha1(password: string): Buffer {
  return createHash("sha1").update(createHash("sha1").update(password, "utf8").digest()).digest();
}

/** Verifies a mysql_native_password proof against the stored SHA1(SHA1(password)). */
export function verifyNativeProof(stored: Uint8Array, scramble: Uint8Array, proof: Uint8Array): boolean {
  if (proof.length !== 20) return false;
  const mix = createHash("sha1").update(scramble).update(stored).digest();
  const stage1 = Buffer.alloc(20);
  for (let i = 0; i < 20; i++) stage1[i] = proof[i] ^ mix[i];
  return timingSafeEqual(createHash("sha1").update(stage1).digest(), Buffer.from(stored));
}

export interface LocalHandshakeResult {
  capabilities: number;
  collation: number;
  user: string;
  database: string | null;
}

type Step = { send: Uint8Array[]; done?: LocalHandshakeResult; fail?: string };

export class LocalHandshake {
  private readonly scramble = randomBytes(20);
  private state: "greeting" | "response" | "switch" | "done" = "greeting";
  private pending: Omit<LocalHandshakeResult, "capabilities"> & { capabilities: number } | null = null;
  readonly offered: number;

  constructor(private readonly stored: Uint8Array, private readonly serverVersion: string, serverCapabilities: number, private readonly connectionId = 1) {
    this.offered = (GATEWAY_CAPABILITIES & serverCapabilities & ~CLIENT.SSL & ~CLIENT.COMPRESS & ~CLIENT.LOCAL_FILES) >>> 0 | CLIENT.PROTOCOL_41 | CLIENT.SECURE_CONNECTION | CLIENT.PLUGIN_AUTH;
  }

  greeting(): Uint8Array {
    this.state = "response";
    return encodePacket(0, encodeHandshakeV10({ serverVersion: this.serverVersion, connectionId: this.connectionId, scramble: this.scramble, capabilities: this.offered >>> 0, mariadbCapabilities: 0, charset: 45, status: 2, authPlugin: "mysql_native_password" }));
  }

  onPacket(p: Packet): Step {
    const deny = (msg: string): Step => ({ send: [encodePacket((p.lastSeq + 1) & 0xff, refusal("accessDenied", msg))], fail: msg });
    if (this.state === "response") {
      const r = decodeHandshakeResponse41(p.payload);
      if (r.sslRequest) return deny("TLS is not offered on the local listener (loopback only)");
      if (!isUtf8Collation(r.charset)) return deny(`client character set (collation ${r.charset}) is not UTF-8; use utf8mb4`);
      const caps = (r.capabilities & this.offered) >>> 0;
      this.pending = { capabilities: caps, collation: r.charset, user: r.user, database: r.database };
      if (r.authPlugin && r.authPlugin !== "mysql_native_password") {
        this.state = "switch";
        return { send: [encodePacket((p.lastSeq + 1) & 0xff, encodeAuthSwitchRequest({ plugin: "mysql_native_password", data: this.scramble }))] };
      }
      return this.verify(p, r.authResponse, deny);
    }
    if (this.state === "switch") return this.verify(p, p.payload, deny);
    return deny("unexpected packet during the handshake");
  }

  private verify(p: Packet, proof: Uint8Array, deny: (m: string) => Step): Step {
    if (!verifyNativeProof(this.stored, this.scramble, proof)) return deny("local listener authentication failed (use the password from the listener's state directory)");
    this.state = "done";
    return { send: [encodePacket((p.lastSeq + 1) & 0xff, encodeOk({ status: 2 }))], done: this.pending! };
  }
}
