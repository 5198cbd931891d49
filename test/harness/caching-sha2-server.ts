/**
 * A minimal MySQL 8-style server for authentication tests: `caching_sha2_password` as the MySQL
 * documentation describes it (no MySQL 8 server can be installed on these machines: Debian's
 * `default-mysql-server` is MariaDB, which has no caching_sha2_password).
 *
 *  - greeting: plugin caching_sha2_password, 20-byte nonce;
 *  - a client answering with another plugin gets an AuthSwitchRequest to caching_sha2_password;
 *  - fast path (the account is in the server's cache after an earlier full authentication):
 *    scramble = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ‖ nonce); the server recovers SHA256(pw)
 *    with its stored SHA256(SHA256(pw)) and checks it; AuthMoreData 0x03, then OK;
 *  - full path (not cached): AuthMoreData 0x04; on this plain connection the client either asks for
 *    the public key (0x02: AuthMoreData with the PEM) or already has it, and sends
 *    RSA-OAEP(SHA-1)((password ‖ NUL) XOR nonce); the server decrypts, checks, caches, OK.
 *    (Cleartext over TLS is not implemented here: the server offers no TLS.)
 *  - wrong password: ERR 1045 / 28000.
 * Command phase: OK for `SET …`, a one-row text resultset for `SELECT @@SESSION.sql_mode, …` (the
 * connector's pinned settings) and for any other SELECT (`1`), OK for COM_PING, close on COM_QUIT.
 * Validated against mysql2's own client implementation (test/e2e/caching-sha2.test.ts).
 */
import net from "node:net";
import { constants, createHash, generateKeyPairSync, privateDecrypt, randomBytes, timingSafeEqual } from "node:crypto";
import { PacketFramer, encodePacket, type Packet } from "../../protocols/mysql/codec/packets.ts";
import { CLIENT } from "../../protocols/mysql/codec/constants.ts";
import { decodeHandshakeResponse41, encodeAuthSwitchRequest, encodeHandshakeV10 } from "../../protocols/mysql/codec/handshake.ts";
import { encodeEof, encodeErr, encodeOk } from "../../protocols/mysql/codec/responses.ts";
import { encodeColumnDefinition, encodeTextRow } from "../../protocols/mysql/codec/resultset.ts";

const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

export interface CachingSha2Server {
  port: number;
  publicKey: string;
  /** Forget every cached account (the next login of each takes the full path). */
  flushCache(): void;
  /** How each successful login went, in order. */
  logins: ("fast" | "full")[];
  /** How many times a client asked for the public key (0x02). */
  keyRequests: number;
  close(): Promise<void>;
}

const CAPABILITIES =
  CLIENT.LONG_PASSWORD | CLIENT.FOUND_ROWS | CLIENT.LONG_FLAG | CLIENT.CONNECT_WITH_DB | CLIENT.PROTOCOL_41 | CLIENT.TRANSACTIONS | CLIENT.SECURE_CONNECTION | CLIENT.MULTI_RESULTS | CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_ATTRS;

export async function startCachingSha2Server(accounts: Record<string, string>): Promise<CachingSha2Server> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding: { type: "spki", format: "pem" }, privateKeyEncoding: { type: "pkcs8", format: "pem" } });
  /** user → SHA256(SHA256(password)), filled by a successful full authentication. */
  const cache = new Map<string, Buffer>();
  const logins: ("fast" | "full")[] = [];
  const api: CachingSha2Server = {
    port: 0,
    publicKey,
    logins,
    keyRequests: 0,
    flushCache: () => cache.clear(),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = net.createServer((socket) => {
    const nonce = randomBytes(20).map((b) => (b === 0 ? 1 : b & 0x7f)); // printable-ish, no NUL (as servers do)
    const framer = new PacketFramer(1 << 20);
    let state: "response" | "switched" | "full" | "rsa" | "command" = "response";
    let user = "";
    let caps = 0;
    const send = (seq: number, payload: Uint8Array) => socket.write(encodePacket(seq & 0xff, payload));
    const deny = (seq: number) => {
      send(seq, encodeErr({ code: 1045, sqlState: "28000", message: `Access denied for user '${user}'` }));
      socket.end();
    };
    const ok = (seq: number, how: "fast" | "full") => {
      logins.push(how);
      state = "command";
      send(seq, encodeOk({ status: 2 }));
    };
    const fastPath = (p: Packet, scramble: Uint8Array) => {
      const password = accounts[user];
      if (password === undefined) return deny(p.seq + 1);
      if (password === "" && scramble.length === 0) return ok(p.seq + 1, "fast");
      const stored = cache.get(user);
      if (!stored) {
        state = "full";
        return send(p.seq + 1, Uint8Array.of(0x01, 0x04));
      }
      if (scramble.length !== 32) return deny(p.seq + 1);
      const mix = sha256(stored, nonce);
      const candidate = Buffer.from(scramble.map((b, i) => b ^ mix[i]!));
      if (!timingSafeEqual(sha256(candidate), stored)) return deny(p.seq + 1);
      send(p.seq + 1, Uint8Array.of(0x01, 0x03));
      return ok(p.seq + 2, "fast");
    };
    const onPacket = (p: Packet) => {
      const b = p.payload;
      switch (state) {
        case "response": {
          const r = decodeHandshakeResponse41(b);
          user = r.user;
          caps = r.capabilities;
          if (r.authPlugin !== "caching_sha2_password") {
            state = "switched";
            return send(p.seq + 1, encodeAuthSwitchRequest({ plugin: "caching_sha2_password", data: Buffer.concat([nonce, Buffer.of(0)]) }));
          }
          return fastPath(p, r.authResponse);
        }
        case "switched":
          state = "response";
          return fastPath(p, b);
        case "full":
        case "rsa": {
          if (b.length === 1 && b[0] === 0x02) {
            state = "rsa";
            api.keyRequests++;
            return send(p.seq + 1, Buffer.concat([Buffer.of(0x01), Buffer.from(publicKey)]));
          }
          let plain: Buffer;
          try {
            plain = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, b);
          } catch {
            return deny(p.seq + 1);
          }
          const text = Buffer.from(plain.map((x, i) => x ^ nonce[i % nonce.length]!));
          const password = accounts[user];
          if (password === undefined || text.toString("utf8") !== `${password}\0`) return deny(p.seq + 1);
          cache.set(user, sha256(sha256(Buffer.from(password, "utf8"))));
          return ok(p.seq + 1, "full");
        }
        case "command":
          return command(p);
      }
    };
    const resultset = (names: string[], values: string[]) => {
      let seq = 1;
      send(seq++, Uint8Array.of(names.length));
      for (const name of names) send(seq++, encodeColumnDefinition({ schema: "", table: "", orgTable: "", name, orgName: "", charset: 45, length: 1024, type: 0xfd, flags: 0, decimals: 0 }));
      const deprecateEof = (caps & CLIENT.DEPRECATE_EOF) !== 0;
      if (!deprecateEof) send(seq++, encodeEof(2));
      send(seq++, encodeTextRow(values.map((v) => new TextEncoder().encode(v))));
      send(seq++, deprecateEof ? encodeOk({ status: 2 }, 0xfe) : encodeEof(2));
    };
    const command = (p: Packet) => {
      const b = p.payload;
      if (b[0] === 0x01) return socket.end(); // COM_QUIT
      if (b[0] === 0x0e) return send(1, encodeOk({ status: 2 })); // COM_PING
      if (b[0] !== 0x03) return send(1, encodeErr({ code: 1047, sqlState: "08S01", message: "Unknown command" }));
      const sql = new TextDecoder().decode(b.subarray(1)).trim();
      if (/^SET\s/i.test(sql)) return send(1, encodeOk({ status: 2 }));
      if (/@@SESSION\.sql_mode/i.test(sql)) return resultset(["sql_mode", "character_set_client", "character_set_results", "character_set_connection"], ["STRICT_TRANS_TABLES", "utf8mb4", "utf8mb4", "utf8mb4"]);
      if (/^SELECT\s/i.test(sql)) return resultset(["1"], ["1"]);
      return send(1, encodeErr({ code: 1064, sqlState: "42000", message: "not understood by the test server" }));
    };
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const p of framer.push(new Uint8Array(chunk))) onPacket(p);
      } catch {
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.write(
      encodePacket(0, encodeHandshakeV10({ serverVersion: "8.0.36-gatehouse-test", connectionId: 7, scramble: nonce, capabilities: CAPABILITIES >>> 0, mariadbCapabilities: 0, charset: 255, status: 2, authPlugin: "caching_sha2_password" })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api.port = (server.address() as net.AddressInfo).port;
  return api;
}
