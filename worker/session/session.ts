/**
 * A live session: the client tunnel, the connector stream, the protocol engine between them,
 * and the session-wide concerns every engine shares — ordered processing per direction,
 * flow control linked across hops, limits, recording, and an orderly end.
 */
import { FrameType, type Frame, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { Engine, EngineHost, HoldForApprovalInput, SessionOutcome } from "../engines/engine.ts";
import { Hop } from "./hop.ts";
import type { SessionAudit } from "./session-audit.ts";
import type { SessionPolicy } from "./session-policy.ts";
import { QUERY_CANCELED_SQLSTATE, type ApprovalHolds, type HeldStatement } from "../approvals/session-hold.ts";
import { TokenLifetime } from "./token-lifetime.ts";
import { protocolModule } from "../../protocols/registry.ts";
import type { Throttle } from "../limits/request-gate.ts";

const CONNECTOR_ATTACH_TIMEOUT_MS = 15_000;

export interface SessionDeps {
  sessionId: string;
  identity: Identity;
  resource: ResourceInfo;
  policy: SessionPolicy;
  audit: SessionAudit;
  /** Ask the hub to have a connector dial this session; resolves when asked, rejects with a reason. */
  requestConnector(): Promise<void>;
  /** Take this session's place under the policy's concurrency caps; rejects with TooManySessionsError (its `code`). */
  acquireSlot(): Promise<void>;
  /** Hosted mode with a request rate: whether one more request may be decided now (worker/limits/request-gate.ts). */
  admitRequest?(cost?: number): Promise<Throttle | null>;
  /** Hosted mode with a request rate: the cheap check before any parsing (RequestGate.beforeParse). */
  refuseBeforeParse?(): Promise<Throttle | null> | null;
  /** Verify a token the client sent to renew its identity (as the edge verifies tokens). */
  verifyToken(token: string): Promise<Identity>;
  /** Held statements of this session (worker/approvals/session-hold.ts). */
  approvals: ApprovalHolds;
  /** Called once when the session ends (after sockets are closed). */
  onEnded(outcome: SessionOutcome, stats: SessionStats, maskingCounts: Record<string, number>): Promise<void>;
}

export interface SessionStats {
  bytesFromClient: number;
  bytesToClient: number;
  startedAt: number;
  endedAt: number;
}

export class Session implements EngineHost {
  readonly client: Hop;
  private connector: Hop | undefined;
  private engine!: Engine;
  private clientChain: Promise<void> = Promise.resolve();
  private connectorChain: Promise<void> = Promise.resolve();
  /** Client bytes processed but not credited back because the connector hop is backlogged. */
  private deferredClientCredit = 0;
  private deferredConnectorCredit = 0;
  private connectorAttached?: { resolve: () => void; reject: (e: Error) => void };
  private ended = false;
  private maxDurationTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly startedAt = Date.now();
  private currentIdentity: Identity;
  private readonly lifetime: TokenLifetime;

  constructor(
    clientSocket: WebSocket,
    private readonly deps: SessionDeps,
  ) {
    this.client = new Hop(clientSocket, "client");
    this.currentIdentity = deps.identity;
    this.lifetime = new TokenLifetime(deps.identity, {
      verify: (token) => deps.verifyToken(token),
      admits: (identity) => deps.policy.admits(identity),
      adopt: async (identity) => {
        this.currentIdentity = identity;
        deps.policy.adopt(identity);
        await deps.audit.onEvent("identity.renewed", { exp: identity.claims.exp, claims: identity.claims });
      },
      // The protocol's own code (ProtocolModule.sessionCodes: PostgreSQL 28000, MySQL 28000); SSH: a close code the client prints with the reason.
      end: (reason) => this.terminate(protocolModule(this.resource.type)?.sessionCodes?.tokenExpired ?? "token-expired", reason),
    });
    this.client.onDrained = () => this.releaseCredit("connector");
  }

  get sessionId(): string {
    return this.deps.sessionId;
  }
  get identity(): Identity {
    return this.currentIdentity;
  }
  get resource(): ResourceInfo {
    return this.deps.resource;
  }
  get policy(): SessionPolicy {
    return this.deps.policy;
  }
  get audit(): SessionAudit {
    return this.deps.audit;
  }
  get hasConnector(): boolean {
    return this.connector !== undefined;
  }
  get isEnded(): boolean {
    return this.ended;
  }

  start(engine: Engine): void {
    this.engine = engine;
    this.client.sendControl({ t: "session", id: this.sessionId, resource: this.resource.name, type: this.resource.type });
    this.lifetime.start();
    const maxMs = this.policy.limits().maxSessionMs;
    if (maxMs) {
      this.maxDurationTimer = setTimeout(() => this.engine.onTerminate("57P01", `session ended: it reached the policy's maximum session duration`), maxMs);
    }
  }

  // ------------------------------------------------------------ EngineHost

  sendToClient(parts: readonly Uint8Array[]): void {
    // The events describing these bytes are written first (one write per round trip); the output
    // gate then holds the bytes until that write is durable. Not recorded → not sent (fail closed).
    const failure = this.deps.audit.commit?.();
    if (failure) return this.fail("client", failure);
    this.client.sendParts(parts);
  }

  sendToConnector(parts: readonly Uint8Array[]): void {
    // Nothing reaches the target after the session ended, whatever an engine still has in hand
    // (a statement released by an approval that came after the end, a request whose dial outlived it).
    if (this.ended) return;
    // A request that is not read-only is durable before the target sees it (docs/AUDIT.md "Durability").
    const failure = this.deps.audit.commitBeforeForward?.();
    if (failure) return this.fail("client", failure);
    this.connector?.sendParts(parts);
  }

  connectorControl(message: ControlMessage): void {
    if (this.ended) return;
    // SSH requests (exec, channel opens, forwards) travel as control messages: same rule as data.
    const failure = this.deps.audit.commitBeforeForward?.();
    if (failure) return this.fail("client", failure);
    this.connector?.sendControl(message);
  }

  sendControlToClient(message: ControlMessage): void {
    const failure = this.deps.audit.commit?.();
    if (failure) return this.fail("client", failure);
    this.client.sendControl(message);
  }

  async openConnectorStream(): Promise<void> {
    if (this.connector) return;
    const attached = new Promise<void>((resolve, reject) => (this.connectorAttached = { resolve, reject }));
    const timer = setTimeout(() => this.connectorAttached?.reject(new Error("the connector did not open a stream in time")), CONNECTOR_ATTACH_TIMEOUT_MS);
    try {
      // Caps are checked before anything dials the target.
      await this.deps.acquireSlot();
      await this.deps.requestConnector();
      await attached;
    } finally {
      clearTimeout(timer);
      this.connectorAttached = undefined;
    }
  }

  admitRequest(cost?: number): Promise<Throttle | null> | null {
    return this.deps.admitRequest?.(cost) ?? null;
  }

  refuseBeforeParse(): Promise<Throttle | null> | null {
    return this.deps.refuseBeforeParse?.() ?? null;
  }

  holdForApproval(input: HoldForApprovalInput): Promise<HeldStatement> {
    return this.deps.approvals.hold({ resource: this.resource.name, identity: this.identity, ...input });
  }

  end(outcome: SessionOutcome): void {
    if (this.ended) return;
    this.ended = true;
    if (this.maxDurationTimer !== undefined) clearTimeout(this.maxDurationTimer);
    this.lifetime.stop();
    const code = outcome.status === "ok" ? 1000 : 1011;
    // Data already accepted for a peer still reaches it (after credit), then the close.
    this.client.closeAfterDrain({ t: "close", code: outcome.code ?? outcome.status, message: outcome.reason }, code, outcome.reason);
    this.connector?.closeAfterDrain({ t: "close", reason: outcome.reason }, 1000, "session ended");
    const stats: SessionStats = {
      bytesFromClient: this.client.bytesReceived,
      bytesToClient: this.client.bytesSent,
      startedAt: this.startedAt,
      endedAt: Date.now(),
    };
    void this.deps.onEnded(outcome, stats, this.engine?.maskingCounts?.() ?? {}).catch(() => {});
  }

  // ------------------------------------------------------------ sockets

  attachConnector(socket: WebSocket): void {
    this.connector = new Hop(socket, "connector");
    this.connector.onDrained = () => this.releaseCredit("client");
    this.connectorAttached?.resolve();
  }

  isClient(ws: WebSocket): boolean {
    return ws === this.client.ws;
  }

  isConnector(ws: WebSocket): boolean {
    return ws === this.connector?.ws;
  }

  onFrame(from: "client" | "connector", frame: Frame): void {
    const hop = from === "client" ? this.client : this.connector;
    if (!hop) return;
    if (frame.type === FrameType.Credit) {
      // Also after the end: an ending hop still delivers the data it accepted (Hop.closeAfterDrain).
      hop.credited(frame.bytes);
      return;
    }
    if (this.ended) return;
    if (frame.type === FrameType.Data) {
      try {
        hop.received(frame.payload.length);
      } catch (e) {
        this.fail(from, e as Error);
        return;
      }
      // No copy: the message's ArrayBuffer is a fresh one per event that the runtime never reuses
      // (web WebSocket semantics), so this view stays valid while processing waits its turn.
      const bytes = frame.payload;
      if (from === "client") this.clientChain = this.clientChain.then(() => this.process("client", bytes));
      else this.connectorChain = this.connectorChain.then(() => this.process("connector", bytes));
      return;
    }
    const message = frame.message;
    if (from === "connector") {
      // Control messages are ordered with data from the same socket.
      this.connectorChain = this.connectorChain.then(() => this.engine.onConnectorControl(message)).catch((e) => this.fail("connector", e as Error));
    } else if (message.t === "token") {
      // Not queued behind the client's data: a statement held for approval must not let the token lapse.
      void this.lifetime.renew(message.token).catch((e) => this.fail("client", e as Error));
    } else if (message.t === "close") {
      // The engine records what its stream readers hold (e.g. a port-forward's summary) before the end.
      this.clientChain = this.clientChain
        .then(() => this.engine?.onClientClosed?.())
        .catch(() => {})
        .then(() => this.end({ status: "ok", reason: "client closed the tunnel" }));
    } else if (this.engine.onClientControl) {
      this.clientChain = this.clientChain.then(() => this.engine.onClientControl!(message)).catch((e) => this.fail("client", e as Error));
    }
  }

  private async process(from: "client" | "connector", bytes: Uint8Array): Promise<void> {
    if (this.ended) return;
    try {
      if (from === "client") await this.engine.onClientData(bytes);
      else {
        // The chunk's message buffer ([type | payload], fresh per message, never reused by the
        // runtime) can carry the answer to the client once the engine has copied the chunk, which
        // it does before it sends anything (Engine.copiesConnectorData): one array less per answer.
        if (this.engine.copiesConnectorData && bytes.byteOffset >= 1) this.client.lendFrame(new Uint8Array(bytes.buffer, bytes.byteOffset - 1, bytes.length + 1));
        try {
          await this.engine.onConnectorData(bytes);
        } finally {
          this.client.lendFrame(null);
        }
      }
    } catch (e) {
      this.fail(from, e as Error);
      return;
    }
    // Credit flows back only when what we produced has left for the next hop: a slow reader
    // downstream stops the writer upstream instead of growing our buffers.
    const downstream = from === "client" ? this.connector : this.client;
    const source = from === "client" ? this.client : this.connector!;
    if (downstream?.backlogged) {
      if (from === "client") this.deferredClientCredit += bytes.length;
      else this.deferredConnectorCredit += bytes.length;
    } else {
      source.grantCredit(bytes.length);
    }
  }

  private releaseCredit(to: "client" | "connector"): void {
    if (to === "client") {
      const n = this.deferredClientCredit;
      this.deferredClientCredit = 0;
      if (n > 0) this.client.grantCredit(n);
    } else {
      const n = this.deferredConnectorCredit;
      this.deferredConnectorCredit = 0;
      if (n > 0) this.connector?.grantCredit(n);
    }
  }

  /**
   * A processing failure — the audit trail could not be written (fail-closed), a protocol error, a
   * peer ignoring flow control: tell the client in its protocol and end. Errors that carry their own
   * SQLSTATE (RecordingError) keep it.
   */
  private fail(from: "client" | "connector", error: Error): void {
    if (this.ended) return;
    const own = (error as Error & { sqlstate?: unknown }).sqlstate;
    const code = typeof own === "string" ? own : from === "connector" ? "08006" : "08P01";
    const reason = error.message.startsWith("gatehouse:") ? error.message.slice(10).trim() : error.message;
    this.engine.onTerminate(code, reason);
    this.end({ status: "error", reason, code });
  }

  onSocketClosed(ws: WebSocket, reason: string): void {
    if (this.isClient(ws)) {
      this.client.markClosed();
      this.end({ status: "ok", reason: reason || "client disconnected" });
    } else if (this.isConnector(ws)) {
      this.connector!.markClosed();
      if (this.connectorAttached) {
        this.connectorAttached.reject(new Error(`connector stream closed: ${reason}`));
        return;
      }
      this.connectorChain = this.connectorChain.then(() => {
        if (!this.ended) this.engine.onConnectorLost(reason || "connector disconnected");
      });
    }
  }

  /** Cancel the running statement (CancelRequest from the client). */
  cancel(): void {
    // A statement waiting for approval has not reached the target: cancelling it withdraws the
    // request (approvers see it withdrawn) and the client gets 57014, as for a running statement.
    // The target is not signalled then: the next statement could already be running when it arrives.
    if (this.deps.approvals.pendingCount > 0) {
      void this.deps.approvals.withdrawPending("the client cancelled the statement while it waited for approval", QUERY_CANCELED_SQLSTATE);
      return;
    }
    this.engine.cancel("client");
  }

  /** End the session from outside (grant revoked, administrator…). */
  terminate(code: string, reason: string): void {
    this.engine.onTerminate(code, reason);
  }
}
