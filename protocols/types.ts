/**
 * Runtime-neutral types shared by every protocol module and every deployable (worker, connector,
 * client): how a protocol message is described to the shared filter chain (worker/chain/), and
 * how a refusal is expressed before a protocol's refusal encoder turns it into wire bytes.
 * No Node or Workers APIs here (the connector and the CLI are bundled without worker code).
 */
import type { ActionKind } from "../parsers/policy/action-kinds.ts";

/** What one protocol message asks for, in the shape every shared filter understands. */
export interface RequestDescription {
  /** The protocol module's registry name ("postgres", "ssh", "http", …). */
  readonly protocol: string;
  /** The protocol's policy vocabulary for this request (e.g. SQL statement kinds, "exec", "get"). */
  readonly actions: readonly string[];
  /** What the request acts on when the protocol names one (table, path, URL path, object). */
  readonly target?: string;
  /** The exact request text as sent (statement, command line, request line): what runs if allowed. */
  readonly text: string;
  /** Bound parameters in order, as sent (text form). */
  readonly parameters?: readonly string[];
  /** Anything else the protocol's own policy part reads (session settings, method, flags, the parsed request). */
  readonly attributes?: Readonly<Record<string, unknown>>;
  /** The exact bytes an approval binds (default: the UTF-8 bytes of `text`). */
  readonly binding?: Uint8Array;
}

/** A refusal, protocol-neutral; the protocol module's refusal encoder turns it into its wire format. */
export interface Refusal {
  /** Why, in the gateway's words: decides the protocol's error code when `code` is absent. */
  readonly kind: RefusalKind;
  /** One human sentence for the client ("gatehouse: statement refused: …"). */
  readonly message: string;
  /** A protocol-specific code chosen by a protocol filter (e.g. a SQLSTATE), overriding `kind`'s default. */
  readonly code?: string;
  /** End the session after telling the client (otherwise the session stays usable). */
  readonly fatal?: boolean;
}

/**
 * denied: policy (or a guard rail) says no · approval: the approval hold did not end in "run" ·
 * canceled: the client or a timeout cancelled it · limit: a session limit · invalid: the gateway
 * cannot decode/check it exactly (fail closed) · unavailable: something the decision needs failed.
 */
export type RefusalKind = "denied" | "approval" | "canceled" | "limit" | "invalid" | "unavailable";


/**
 * A protocol module's runtime-neutral descriptor (`protocols/<name>/module.ts`), listed once in
 * protocols/modules.ts. Each deployable finds the protocol's own part by the same name in a
 * registry generated from that list: the worker engine (protocols/registry-worker.ts), the
 * connector dialer (protocols/registry-connector.ts) and the CLI listener engine
 * (protocols/registry-client.ts).
 */
export interface ProtocolModule {
  /** Registry key and the resource `type` it serves ("postgres", "ssh", "http"…). */
  readonly name: string;
  /** The policy action namespace of its rules (`sql.read`, `ssh.exec`, …). */
  readonly actionNamespace: string;
  /**
   * SQL protocols whose engine classifies statements with its own dialect classifier (MySQL's
   * lexer, not PostgreSQL's): the engine passes them in `attributes.statements` and the policy
   * decides on exactly those (a description without them is denied).
   */
  readonly ownSqlDialect?: boolean;
  /**
   * The protocol's own codes for endings the shared session code raises (a token that lapsed, a
   * session over the concurrency caps), handed to its engine's onTerminate / refusal encoder.
   * Absent: the protocol-neutral words `token-expired` and `too-many-sessions`.
   */
  readonly sessionCodes?: { readonly tokenExpired: string; readonly tooManySessions: string };
  /** Its rule kind, plugged into the policy compiler and engine (absent for SQL, which is built in). */
  readonly policy?: ActionKind;
  /**
   * The refusal encoder for a session that cannot start (before any engine runs): client-protocol
   * bytes sent in the tunnel before its close frame, or none when the tunnel's close frame is how
   * this protocol's client learns the reason (the CLI turns it into the client's protocol).
   */
  refusalAtStart(refusal: Refusal): Uint8Array[];
  /**
   * The engine asks for the connector's stream as soon as it starts when the connect decision
   * allows (its dial touches nothing on the target: the connector logs in only on `open`). The
   * session object may then take the session's place under the caps and ask the hub for that
   * stream while `session.start` is being recorded (worker/session/session-object.ts); the
   * engine, created once the start is durable, uses that request instead of a second one.
   */
  readonly streamAtSessionStart?: boolean;
}
