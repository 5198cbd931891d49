/**
 * One MySQL session's data stream (`/v1/connector/streams/<session>`):
 *
 *   worker ──open { access, capabilities, collation, database }──▶ connector
 *   connector ──TLS + login with the access level's own account (login.ts)──▶ MySQL / MariaDB
 *   worker ◀─ready { serverVersion, capabilities, pinned }── connector
 *   worker ◀══DATA══▶ connector ◀══bytes══▶ server        (raw relay, credit-based flow control)
 *
 * The password never leaves this process: the worker and the client only ever see the session.
 * Flow control as for PostgreSQL: at zero send credit the server socket is paused (TCP
 * backpressure reaches the server), received DATA is credited back once written to the server.
 */
import type { Socket } from "node:net";
import { MAX_DATA_PAYLOAD, type ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { StreamProtocolError, TargetError } from "../../../connector/errors.ts";
import { resolveSecret } from "../../../connector/secrets.ts";
import { TunnelStreamBase } from "../../../connector/stream-base.ts";
import { isAccessLevel } from "../../postgres/connector/credentials.ts";
import { encodePacket } from "../codec/packets.ts";
import { COM } from "../codec/constants.ts";
import { mysqlLogin, MysqlLoginError, type MysqlLoginOptions } from "./login.ts";
import { encodeQuery } from "../codec/commands.ts";
import type { MysqlResourceConfig } from "./config.ts";

const TARGET_CLOSE_GRACE_MS = 5_000;
const COM_QUIT_PACKET = encodePacket(0, Uint8Array.of(COM.QUIT));

export class MysqlTunnelStream extends TunnelStreamBase {
  protected readonly protocolErrorCode = "08S01";
  private target?: Socket;
  /** The client sent COM_QUIT (the last bytes the worker forwarded): the server's close is orderly. */
  private quitSent = false;

  /** How to log in again as this session's account, and the server thread it runs on (for a KILL QUERY). */
  private killer?: { login: MysqlLoginOptions; threadId: number };

  protected override onOtherControl(message: ControlMessage): void {
    if (message.t === "cancel") {
      void this.killQuery();
      return;
    }
    this.ctx.logger.debug("ignoring unknown control message", { session: this.session, t: message.t.slice(0, 40) });
  }

  protected override onData(payload: Uint8Array): void {
    if (this.state !== "ready" || !this.target) throw new StreamProtocolError("DATA before the stream is ready", 1008);
    this.receiveData(payload.length);
    this.quitSent = payload.length >= 5 && payload[payload.length - 5] === 1 && payload[payload.length - 4] === 0 && payload[payload.length - 3] === 0 && payload[payload.length - 2] === 0 && payload[payload.length - 1] === COM.QUIT;
    const length = payload.length;
    this.target.write(payload, (err) => {
      if (!err) this.returnCredit(length);
    });
  }

  protected override pauseTarget(): void {
    this.target?.pause();
  }

  protected override resumeTarget(): boolean {
    if (!this.target) return false;
    this.target.resume();
    return true;
  }

  protected override async connectTarget(open: ControlMessage): Promise<void> {
    if (typeof open.resource !== "string" || open.resource !== this.resourceName) {
      return this.protocolError(new StreamProtocolError(`open names resource ${JSON.stringify(String(open.resource).slice(0, 64))}, expected ${this.resourceName}`, 1008));
    }
    if (this.refusal) return await this.fail(this.refusal);
    const resource = this.ctx.resources.get(this.resourceName);
    if (!resource || resource.type !== "mysql") return await this.fail(new TargetError("08S01", `gatehouse: resource ${this.resourceName}: not served by connector ${this.ctx.connectorId}`));
    // The second wall: log in with exactly the access level the worker decided from the policy.
    if (!isAccessLevel(open.access)) return await this.fail(new TargetError("08S01", `gatehouse: resource ${this.resourceName}: the worker's open names no valid access level (read, write or admin)`), resource);
    const credential = resource.credentials[open.access];
    if (!credential) return await this.fail(new TargetError("28000", `gatehouse: resource ${this.resourceName}: the connector has no account for access level ${open.access}`), resource);
    if (typeof open.capabilities !== "number" || typeof open.collation !== "number") return await this.fail(new TargetError("08S01", "gatehouse: the worker's open carries no client capabilities"), resource);
    const database = typeof open.database === "string" && open.database !== "" ? open.database : resource.database;
    this.state = "connecting";
    let session;
    let login: MysqlLoginOptions;
    try {
      const tls = resource.tls.mode === "disable" ? undefined : { ...(resource.tls.ca ? { ca: resource.tls.ca } : {}), ...(resource.tls.servername ? { servername: resource.tls.servername } : {}), verifyHost: resource.tls.mode === "verify-full" };
      const serverPublicKey = await resolveSecret(resource.serverPublicKey);
      login = {
        host: resource.host,
        port: resource.port,
        user: credential.username,
        password: (await resolveSecret(credential.password)) ?? "",
        ...(database ? { database } : {}),
        ...(tls ? { tls } : {}),
        ...(serverPublicKey ? { serverPublicKey } : {}),
        readOnly: open.access === "read",
        capabilities: open.capabilities,
        collation: open.collation,
        timeoutMs: this.ctx.connectTimeoutMs + this.ctx.startupTimeoutMs,
        statementTimeoutMs: typeof open.statement_timeout_ms === "number" ? open.statement_timeout_ms : null,
      };
      session = await mysqlLogin(login);
    } catch (err) {
      if (this.closed) return;
      const e = err as Error;
      const code = err instanceof MysqlLoginError && err.sqlState ? err.sqlState : "08S01";
      return await this.fail(new TargetError(code, `gatehouse: resource ${resource.name}: ${e.message}`), resource);
    }
    const socket = session.socket;
    if (this.closed) {
      socket.end(COM_QUIT_PACKET);
      return;
    }
    this.target = socket;
    this.killer = { login, threadId: session.handshake.connectionId };
    this.state = "ready";
    socket.pause();
    this.sendControl({ t: "ready", serverVersion: session.handshake.serverVersion, capabilities: session.capabilities, pinned: { ...session.pinned } });
    this.ctx.logger.info("session ready", { session: this.session, resource: resource.name, access: open.access });
    this.ctx.emit({ type: "stream-ready", stats: this.stats() });
    socket.on("data", (chunk: Buffer) => this.onTargetData(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => this.ctx.logger.debug("target socket error", { session: this.session, error: err.code ?? err.message }));
    socket.on("close", () => this.onTargetClosed(resource));
    for (const b of session.leftover) this.onTargetData(Buffer.from(b));
    if (this.sendWindow.open) socket.resume();
  }

  /**
   * Cancel the running statement (a client's KILL QUERY routed by the worker, or the statement
   * timeout): log in again with the same account on a connection of its own and `KILL QUERY` the
   * session's server thread (a user may kill its own threads without PROCESS/SUPER).
   */
  private async killQuery(): Promise<void> {
    const k = this.killer;
    if (!k || this.state !== "ready") return;
    try {
      const s = await mysqlLogin({ ...k.login, readOnly: false, statementTimeoutMs: null });
      await new Promise<void>((resolve) => {
        const done = () => {
          s.socket.end(COM_QUIT_PACKET);
          resolve();
        };
        s.socket.once("data", done);
        s.socket.once("close", done);
        s.socket.once("error", done);
        s.socket.write(encodePacket(0, encodeQuery(`KILL QUERY ${k.threadId}`)));
      });
      this.ctx.logger.info("statement cancelled (KILL QUERY)", { session: this.session });
    } catch (err) {
      this.ctx.logger.warn("KILL QUERY failed", { session: this.session, error: (err as Error).message });
    }
  }

  private onTargetData(chunk: Buffer): void {
    if (this.state !== "ready") return;
    for (let offset = 0; offset < chunk.length; offset += MAX_DATA_PAYLOAD) {
      this.sendData(chunk.subarray(offset, Math.min(chunk.length, offset + MAX_DATA_PAYLOAD)));
    }
    this.pauseIfOutOfCredit();
  }

  private onTargetClosed(resource: MysqlResourceConfig): void {
    if (this.state === "closed") return;
    if (this.quitSent) this.sendControl({ t: "close", reason: "session terminated" });
    else {
      const err = new TargetError("08S01", `gatehouse: resource ${resource.name}: the server closed the connection`);
      this.sendControl({ t: "error", code: err.code, message: err.message });
      this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    }
    this.ws?.close(1000, this.quitSent ? "terminated" : "target closed");
    this.finish(this.quitSent ? "session terminated" : "target closed the connection");
  }

  private async fail(err: TargetError, resource?: MysqlResourceConfig): Promise<void> {
    // Defence in depth: whatever produced the message, no password leaves the connector.
    const passwords = await Promise.all(Object.values(resource?.credentials ?? {}).map((c) => resolveSecret(c?.password).catch(() => undefined)));
    const scrub = (text: string) => passwords.reduce<string>((t, p) => (p && p.length >= 3 ? t.split(p).join("***") : t), text);
    const message = scrub(err.message);
    this.ctx.logger.warn("target connection failed", { session: this.session, resource: this.resourceName, code: err.code, message });
    this.sendControl({ t: "error", code: err.code, message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message });
    this.ws?.close(1000, "target error");
    this.finish(`target error ${err.code}`);
  }

  /** COM_QUIT when the session was up (the server ends the thread at once), then cut after a grace period. */
  protected override closeTarget(wasReady: boolean): void {
    const target = this.target;
    if (!target || target.destroyed) return;
    if (wasReady && !this.quitSent) target.end(COM_QUIT_PACKET);
    else target.end();
    target.resume();
    setTimeout(() => target.destroy(), TARGET_CLOSE_GRACE_MS).unref();
  }
}
