/**
 * One session's data stream (`/v1/connector/streams/<session>`):
 *
 *   worker ──open──▶ connector ──dial + authenticate──▶ PostgreSQL
 *   worker ◀─ready── connector
 *   worker ◀══DATA══▶ connector ◀══bytes══▶ PostgreSQL      (raw relay, credit-based flow control)
 *
 * Flow control (docs/PROTOCOL.md): DATA we send spends the SendWindow; at zero credit the
 * PostgreSQL socket is paused, so TCP backpressure reaches the server. DATA we receive is counted
 * in the ReceiveWindow and credited back only once the PostgreSQL socket has flushed it. Memory
 * held per session is therefore bounded by the windows, however slow either end is.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { serialize } from "pg-protocol";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import type { ResourceConfig } from "../../../connector/config.ts";
import { StreamProtocolError, TargetError } from "../../../connector/errors.ts";
import { resolveSecret } from "../../../connector/secrets.ts";
import { TunnelStreamBase } from "../../../connector/stream-base.ts";
import { dialPostgres } from "./dial.ts";
import { isAccessLevel } from "./credentials.ts";
import { loginForLevel, type LeasedLogin } from "./login.ts";
import { sendCancelRequest } from "./cancel.ts";
import type { BackendKey } from "./startup.ts";

/** PostgreSQL Terminate message: 'X' + length 4. Seen last means the client ended the session. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);
/** After we ask PostgreSQL to terminate, how long it may take to close before we cut the socket. */
const TARGET_CLOSE_GRACE_MS = 5_000;

export class TunnelStream extends TunnelStreamBase {
  protected readonly protocolErrorCode = "08P01";
  private target?: Socket | TLSSocket;
  private backendKey?: BackendKey;
  /** The role this session logged in as; released (a dynamic role dropped) once the target is gone. */
  private login?: LeasedLogin;
  /** Settles when the login has been released: `finished` waits for it, so a stopping connector drops its roles. */
  private released: Promise<void> = Promise.resolve();
  private markReleased: () => void = () => {};
  private loginReleased = false;

  override get finished(): Promise<void> {
    return super.finished.then(() => this.released);
  }

  /** Once the target connection is gone (or was never made): a dynamic role can only be dropped then. */
  private releaseLogin(): void {
    if (this.loginReleased) return;
    this.loginReleased = true;
    if (!this.login) return this.markReleased();
    void this.login.release().then(this.markReleased);
  }
  /**
   * Last bytes written to the target, to recognise a client Terminate: a fixed buffer of
   * TERMINATE's length (its last `frontendTailLength` bytes are valid), updated in place per
   * DATA frame instead of a concatenation per frame.
   */
  private readonly frontendTail = Buffer.alloc(TERMINATE.length);
  private frontendTailLength = 0;
  private get lastFrontendBytes(): Buffer {
    return this.frontendTail.subarray(TERMINATE.length - this.frontendTailLength);
  }
  // ── worker → connector ────────────────────────────────────────────────────

  protected override onOtherControl(message: ControlMessage): void {
    if (message.t === "cancel") {
      void this.cancel();
      return;
    }
    // Forward compatibility: a newer worker may send messages we do not know; they carry no data.
    this.ctx.logger.debug("ignoring unknown control message", { session: this.session, t: message.t.slice(0, 40) });
  }

  protected override onData(payload: Uint8Array): void {
    if (this.state !== "ready" || !this.target) throw new StreamProtocolError("DATA before the stream is ready", 1008);
    this.receiveData(payload.length);
    this.rememberFrontendTail(payload);
    const length = payload.length;
    // Credit goes back only once the bytes left our process: a slow database stops the worker.
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

  private rememberFrontendTail(payload: Uint8Array): void {
    const size = TERMINATE.length;
    const tail = this.frontendTail;
    if (payload.length >= size) {
      tail.set(payload.subarray(payload.length - size));
      this.frontendTailLength = size;
      return;
    }
    // Fewer new bytes than the tail holds: shift the kept ones left, append the new ones.
    tail.copyWithin(0, payload.length);
    tail.set(payload, size - payload.length);
    this.frontendTailLength = Math.min(size, this.frontendTailLength + payload.length);
  }

  // ── target ────────────────────────────────────────────────────────────────

  protected override async connectTarget(open: ControlMessage): Promise<void> {
    if (typeof open.resource !== "string" || open.resource !== this.resourceName) {
      return this.protocolError(new StreamProtocolError(`open names resource ${JSON.stringify(String(open.resource).slice(0, 64))}, expected ${this.resourceName}`, 1008));
    }
    if (this.refusal) return await this.failWithTargetError(this.refusal);
    const resource = this.ctx.resources.get(this.resourceName);
    if (!resource || resource.type !== "postgres") {
      return await this.failWithTargetError(new TargetError("08001", `gatehouse: resource ${this.resourceName}: not served by connector ${this.ctx.connectorId}`));
    }
    // The second wall: log in with exactly the access level the worker decided from the policy.
    if (!isAccessLevel(open.access)) {
      return await this.failWithTargetError(new TargetError("08P01", `gatehouse: resource ${this.resourceName}: the worker's open names no valid access level (read, write or admin)`), resource);
    }
    this.state = "connecting";
    let session;
    try {
      const maxSessionMs = typeof open.max_session_ms === "number" ? open.max_session_ms : null;
      this.released = new Promise((resolve) => (this.markReleased = resolve));
      this.login = await loginForLevel(resource, open.access, {
        maxSessionMs,
        connectTimeoutMs: this.ctx.connectTimeoutMs,
        startupTimeoutMs: this.ctx.startupTimeoutMs,
        signal: this.abort.signal,
        onReleaseError: (err) => this.ctx.logger.warn("could not drop the session's dynamic role (the next connector start sweeps it)", { session: this.session, error: err.message }),
      });
      session = await dialPostgres(resource, open.startup, this.login, {
        connectTimeoutMs: this.ctx.connectTimeoutMs,
        startupTimeoutMs: this.ctx.startupTimeoutMs,
        signal: this.abort.signal,
      });
    } catch (err) {
      this.releaseLogin();
      if (this.closed) return;
      const target = err instanceof TargetError ? err : new TargetError("08001", `gatehouse: resource ${resource.name}: ${(err as Error).message}`);
      await this.failWithTargetError(target, resource);
      return;
    }
    if (this.closed) {
      session.socket.once("close", () => this.releaseLogin());
      session.socket.end(serialize.end());
      return;
    }
    const socket = session.socket;
    this.target = socket;
    this.backendKey = session.backendKey;
    this.state = "ready";
    this.sendControl({ t: "ready", parameters: session.parameters, txStatus: session.txStatus });
    this.ctx.logger.info("session ready", { session: this.session, resource: resource.name });
    this.ctx.emit({ type: "stream-ready", stats: this.stats() });

    socket.on("data", (chunk: Buffer) => this.onTargetData(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => this.ctx.logger.debug("target socket error", { session: this.session, error: err.code ?? err.message }));
    socket.on("close", () => {
      this.releaseLogin();
      this.onTargetClosed(resource);
    });
    if (session.remainder.length > 0) this.onTargetData(session.remainder);
    if (this.sendWindow.open) socket.resume();
  }

  private onTargetData(chunk: Buffer): void {
    if (this.state !== "ready") return;
    // Reads of one event-loop turn → as few DATA frames as possible; the worker reframes PostgreSQL messages.
    this.sendStreamData(chunk);
    this.pauseIfOutOfCredit();
  }

  private onTargetClosed(resource: ResourceConfig): void {
    if (this.state === "closed") return;
    const terminated = this.lastFrontendBytes.equals(TERMINATE);
    if (terminated) {
      this.sendControl({ t: "close", reason: "session terminated" });
    } else {
      const err = new TargetError("08006", `gatehouse: resource ${resource.name}: target closed the connection`);
      this.sendControl({ t: "error", code: err.code, message: err.message });
      this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    }
    this.ws?.close(1000, terminated ? "terminated" : "target closed");
    this.finish(terminated ? "session terminated" : "target closed the connection");
  }

  private async cancel(): Promise<void> {
    const resource = this.ctx.resources.get(this.resourceName);
    if (this.state !== "ready" || !this.backendKey || !resource || resource.type !== "postgres") {
      this.ctx.logger.debug("cancel ignored: no running backend", { session: this.session });
      return;
    }
    try {
      await sendCancelRequest(resource, this.backendKey, { connectTimeoutMs: this.ctx.connectTimeoutMs });
      this.ctx.emit({ type: "stream-cancel-sent", stats: this.stats() });
    } catch (err) {
      this.ctx.logger.warn("cancel request failed", { session: this.session, error: (err as Error).message });
    }
  }

  // ── endings ───────────────────────────────────────────────────────────────

  private async failWithTargetError(err: TargetError, resource?: ResourceConfig): Promise<void> {
    // Defence in depth: whatever produced the message, the password never leaves the connector.
    const passwords = await Promise.all([resolveSecret(resource?.password), resolveSecret(this.login?.password)].map((p) => p.catch(() => undefined)));
    const scrub = (text: string) => passwords.reduce<string>((t, password) => (password && password.length >= 3 ? t.split(password).join("***") : t), text);
    const message = scrub(err.message);
    const detail = err.detail !== undefined ? scrub(err.detail) : undefined;
    this.ctx.logger.warn("target connection failed", { session: this.session, resource: this.resourceName, code: err.code, message });
    this.sendControl({ t: "error", code: err.code, message, ...(detail !== undefined ? { detail } : {}) });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message });
    this.ws?.close(1000, "target error");
    this.finish(`target error ${err.code}`);
  }

  /**
   * Ask PostgreSQL to end the backend (Terminate when the session was up), then cut the socket
   * after a grace period. A backend busy with a statement reads neither the Terminate nor notices
   * the closed socket until the statement ends, so when the gateway ends a session the client did
   * not close itself (token expiry, revocation, maximum duration, a dropped client), the statement
   * is cancelled first: an ended session must not keep running on the target.
   */
  protected override closeTarget(wasReady: boolean): void {
    const target = this.target;
    if (!target || target.destroyed) return;
    const resource = this.ctx.resources.get(this.resourceName);
    if (wasReady && this.backendKey && resource?.type === "postgres" && !this.lastFrontendBytes.equals(TERMINATE)) {
      const key = this.backendKey;
      void sendCancelRequest(resource, key, { connectTimeoutMs: this.ctx.connectTimeoutMs }).catch((err: Error) =>
        this.ctx.logger.warn("cancel at session end failed", { session: this.session, error: err.message }),
      );
    }
    if (wasReady) target.end(serialize.end());
    else target.end();
    target.resume();
    setTimeout(() => target.destroy(), TARGET_CLOSE_GRACE_MS).unref();
  }
}
