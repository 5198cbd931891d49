/**
 * One engine per protocol behind this small interface (Teleport-style); the session glue
 * (worker/session/) owns sockets, flow control and lifetime, the engine owns the protocol:
 * decode → policy → approval hold → masking → recording → forward (on the shared filter chain,
 * worker/chain/). The host offers only what every protocol needs; a protocol's own capabilities
 * (PostgreSQL's cancel keys…) belong to its worker part (`WorkerProtocol`, protocols/<name>/worker/).
 */
import type { ControlMessage } from "../../parsers/tunnel/frames.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { SessionAudit } from "../session/session-audit.ts";
import type { SessionPolicy } from "../session/session-policy.ts";
import type { Decision } from "../../parsers/policy/types.ts";
import type { HeldStatement } from "../approvals/session-hold.ts";
import type { Env } from "../env.ts";
import type { ProtocolModule } from "../../protocols/types.ts";
import type { Throttle } from "../limits/request-gate.ts";

export type { Throttle };

export interface EngineHost {
  readonly sessionId: string;
  readonly identity: Identity;
  readonly resource: ResourceInfo;
  readonly policy: SessionPolicy;
  readonly audit: SessionAudit;
  /**
   * Write protocol bytes to the client (in order; flow-controlled). The parts may be views of an
   * engine's working memory (framer, masker) that its next step reuses: copy them before returning.
   */
  sendToClient(parts: readonly Uint8Array[]): void;
  /** Write protocol bytes to the target through the connector (in order; flow-controlled). */
  sendToConnector(parts: readonly Uint8Array[]): void;
  connectorControl(message: ControlMessage): void;
  /** Send a CONTROL message to the client (protocols with structured frames, e.g. SSH). */
  sendControlToClient(message: ControlMessage): void;
  /** Ask the hub for a connector stream and wait until it is attached. Rejects with a reason. */
  openConnectorStream(): Promise<void>;
  /**
   * Hold a statement for human approval (policy effect `approve`). Resolves at once with the
   * request (id, notice for the client); its `verdict` resolves when approvers decide or time runs out.
   */
  holdForApproval(input: HoldForApprovalInput): Promise<HeldStatement>;
  /**
   * Asked before every request is decided: null (or resolving to null) = go on; a Throttle = the
   * tenant's request rate is used up (hosted mode): refuse it in the protocol's own words, the
   * session stays usable. Returns null synchronously when no rate applies.
   */
  admitRequest?(cost?: number): Promise<Throttle | null> | null;
  /**
   * Asked first, before the request is decoded or classified (then `admitRequest` with its cost):
   * a Throttle with `recorded: true` is already counted in the trail (a `rate.refused` event), so
   * the engine answers it in the protocol's own words and records nothing, decodes nothing more.
   * A throttle with `end: true` is followed by the session's end (the host ends it).
   */
  refuseBeforeParse?(): Promise<Throttle | null> | null;
  /** End the session: both sockets close after pending output is flushed. */
  end(outcome: SessionOutcome): void;
}

export interface HoldForApprovalInput {
  statement: string;
  /** What approvers see: literal values masked, structure never hidden (approvals/display.ts). */
  displayText: string;
  decision: Decision;
  /** The exact bytes the approval binds (default: the statement text) — e.g. text plus bound parameters. */
  binding?: Uint8Array;
  /** Bound parameters as approvers see them (`$1 = '…'`), in order. */
  parameters?: string[];
}

export interface SessionOutcome {
  status: "ok" | "error" | "denied";
  reason: string;
  code?: string;
}

export interface Engine {
  onClientData(bytes: Uint8Array): Promise<void>;
  onConnectorData(bytes: Uint8Array): Promise<void>;
  /**
   * True when onConnectorData copies the chunk it is given (or drops it) before it sends anything
   * to the client and keeps no view of it afterwards (PostgreSQL: into its framer). The session
   * then lends the client hop the chunk's own message buffer for the next DATA frame to the client
   * (Hop.lendFrame): no fresh array per answer.
   */
  readonly copiesConnectorData?: boolean;
  onConnectorControl(message: ControlMessage): Promise<void>;
  /** Client CONTROL messages other than `close` (optional: protocols with structured frames, e.g. SSH). Ordered with client DATA. */
  onClientControl?(message: ControlMessage): Promise<void>;
  /** The client closed the tunnel (optional): record what the engine's stream readers still hold; the session ends right after. */
  onClientClosed?(): Promise<void>;
  /** The connector stream vanished or failed: tell the client in its protocol. */
  onConnectorLost(reason: string): void;
  /** The session hit a limit (maximum duration, grant revoked…): tell the client, then end. */
  onTerminate(code: string, reason: string): void;
  /** A cancel request for the running statement (client CancelRequest or statement timeout). */
  cancel(reason: "client" | "timeout"): void;
  /** Values masked per rule so far (audit trail), when the engine masks. */
  maskingCounts?(): Record<string, number>;
}

export type EngineFactory = (host: EngineHost) => Engine;

/** What the worker lends a protocol's worker part beyond the host (bindings for its own state). */
export interface WorkerServices {
  readonly env: Env;
  readonly sessionId: string;
}

/** A protocol's worker part (protocols/<name>/worker/index.ts), listed in protocols/registry-worker.ts. */
export interface WorkerProtocol {
  readonly module: ProtocolModule;
  createEngine(host: EngineHost, services: WorkerServices): Engine;
  /** After the session ended and was recorded: the protocol's own clean-up. */
  onSessionEnded?(services: WorkerServices): Promise<void>;
}
