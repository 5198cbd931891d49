/**
 * Recording (shared filter): the session's trail, in the shapes the protocol engines need, with
 * the ordering and durability guarantees of docs/AUDIT.md ("Durability") owned here, not by each
 * engine. The protocol supplies only payloads (its request event, the events describing an answer);
 * this filter decides when they are written and what may pass before they are durable:
 *
 * - One batch per round trip: a request's event is started, not awaited, and its decision joins
 *   it (`decision()`), so both go to storage in the same write; the events describing an answer
 *   are written together.
 * - Durable before forward: a request that is not read-only (writes, DDL, SSH requests,
 *   anything not known to only read) is committed before anything more goes to the target
 *   (`beforeForward`, placed last, right before the forwarder). A read-only request may go
 *   ahead of its write…
 * - …but answers wait: before anything goes to the client, what is buffered is committed (the
 *   output gate then holds those bytes until the write is durable). Encode runs in reverse, so
 *   this filter, placed first, records the answer as the client receives it (after masking).
 * - Typed input (SSH shells, which no request event describes) is durable before it is relayed
 *   (`relayed`, then `beforeForward`): one write per chunk of input.
 * - A failed write ends the session: the message is refused with a fatal refusal (nothing goes
 *   on unrecorded), in the client's own protocol.
 * - The trail text of a request (and its bound parameters) is masked here by the session's
 *   detectors (`maskText`), from the protocol's described request.
 *
 * Engines whose framing does not run message by message through a FilterChain (PostgreSQL's
 * batches, SSH's channels) drive the same `trail` at the same points: request → decision →
 * beforeForward, answers → beforeDeliver.
 */
import type { DecisionEvent, QueryEvent, SessionAudit } from "../../session/session-audit.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { CONTINUE, refuse, type ChainFrame, type Filter, type Refusal } from "../types.ts";

export type TrailAudit = Pick<SessionAudit, "onQuery" | "onDecision"> & Partial<Pick<SessionAudit, "commit" | "commitBeforeForward" | "holdForwardUntilCommitted">>;

/** A request's event as the protocol describes it; `readOnly` defaults to the description's `attributes.readOnly`. */
export type RequestEvent = Omit<QueryEvent, "readOnly"> & { readOnly?: boolean };

/** One event describing (part of) an answer, written when called. */
export type AnswerRecord = () => Promise<void>;

/**
 * The trail of one session: requests joined to their decisions, answers, and the two gates. A gate
 * returns the failure (the write did not happen: what was to be sent must not be sent).
 */
export class Trail {
  private unjoined: Promise<void> | undefined;

  constructor(
    private readonly audit: () => TrailAudit,
    private readonly maskTexts?: (texts: string[]) => string[],
  ) {}

  /** Request text as the trail (and approvers) may see it: masked by the session's detectors. */
  text(text: string): string {
    return this.maskTexts ? this.maskTexts([text])[0]! : text;
  }

  /** Bound parameters for the trail: text ones masked like request text, binary ones by size only (the recorder). */
  params(params: NonNullable<QueryEvent["params"]>): NonNullable<QueryEvent["params"]> {
    if (!this.maskTexts) return params;
    const masked = this.maskTexts(params.filter((p): p is string => typeof p === "string"));
    let k = 0;
    return params.map((p) => (typeof p === "string" ? masked[k++]! : p));
  }

  /**
   * Starts recording a request (masked); not awaited: the next decision joins it into one batch.
   * `maskText: false`: the text is the gateway's own words or a protocol name, recorded as is.
   */
  request(event: RequestEvent, opts: RecordOptions = {}): void {
    const recorded = this.audit().onQuery(this.masked(event, opts));
    recorded.catch(() => {});
    const earlier = this.unjoined;
    this.unjoined = earlier === undefined ? recorded : Promise.all([earlier, recorded]).then(() => {});
  }

  /** A request no decision follows (PostgreSQL's Bind parameters): recorded now. */
  requestAlone(event: RequestEvent, opts: RecordOptions = {}): Promise<void> {
    return this.audit().onQuery(this.masked(event, opts));
  }

  /** The decision, joined with the request started before it (one batch, one write). */
  async decision(event: DecisionEvent): Promise<void> {
    const request = this.unjoined;
    this.unjoined = undefined;
    await Promise.all([request, this.audit().onDecision(event)]);
  }

  /** A request started and not joined by a decision (none came): recorded with what follows it. */
  async settle(): Promise<void> {
    const request = this.unjoined;
    this.unjoined = undefined;
    await request;
  }

  /** The events describing an answer, as the client receives it: one batch. */
  async answer(records: readonly AnswerRecord[]): Promise<void> {
    await Promise.all(records.map((record) => record()));
  }

  /**
   * Events describing bytes about to be relayed to the target that no request event describes
   * (typed input): recorded, and the next `beforeForward` makes them durable first — one write
   * per chunk of input. The caller relays (through `beforeForward`) only after this resolves, and
   * relays nothing when it rejects: later chunks wait behind it (the session hands the engine one
   * client message at a time), so the relay order is the arrival order.
   */
  async relayed(records: readonly AnswerRecord[]): Promise<void> {
    await Promise.all(records.map((record) => record()));
    if (records.length > 0) this.audit().holdForwardUntilCommitted?.();
  }

  /** Before anything goes to the target: a buffered request that is not read-only is made durable first. */
  beforeForward(): Error | undefined {
    return this.audit().commitBeforeForward?.();
  }

  /** Before anything goes to the client: what describes it is written, and the output gate holds the bytes until durable. */
  beforeDeliver(): Error | undefined {
    return this.audit().commit?.();
  }

  private masked(event: RequestEvent, opts: RecordOptions): QueryEvent {
    const out: QueryEvent = { ...event, text: opts.maskText === false ? event.text : this.text(event.text), readOnly: event.readOnly === true };
    if (event.params) out.params = this.params(event.params);
    return out;
  }
}

export interface RecordOptions {
  /** false: the request text is not the client's (the gateway's own words, a protocol name): recorded as is. */
  maskText?: boolean;
}

/** A write that failed: the session ends, in the client's protocol (its own code when the error carries one). */
export function recordingRefusal(error: Error): Refusal {
  const own = (error as Error & { sqlstate?: unknown }).sqlstate;
  const message = error.message.startsWith("gatehouse:") ? error.message : `gatehouse: ${error.message}`;
  return { kind: "unavailable", message, fatal: true, ...(typeof own === "string" ? { code: own } : {}) };
}

export interface RecordingOptions<M> {
  audit: TrailAudit | (() => TrailAudit);
  /** Detector masking of request text for the trail (the session's masking rules); absent: recorded as sent. */
  maskTexts?(texts: string[]): string[];
  /** The request's event (the protocol's payload); default: `message` "request" and the description's text and parameters. Null: not recorded. */
  requestEvent?(frame: ChainFrame<M>): RequestEvent | null;
  /** The events describing an answer (none: the answer is not recorded, but still waits for what is buffered). */
  answerEvents?(frame: ChainFrame<M>): readonly AnswerRecord[];
}

export interface RecordingFilter<M> extends Filter<M> {
  /** The durable-before-forward gate: place it last, right before the forwarder. */
  readonly beforeForward: Filter<M>;
  /** For the decision filter's `record` and the approval hold's: joins the request's batch. */
  readonly trail: Trail;
}

export function recordingFilter<M>(opts: RecordingOptions<M>): RecordingFilter<M> {
  const audit = typeof opts.audit === "function" ? opts.audit : () => opts.audit as TrailAudit;
  const trail = new Trail(audit, opts.maskTexts);
  const gate = (failure: Error | undefined) => (failure ? refuse(recordingRefusal(failure)) : CONTINUE);
  return {
    name: "recording",
    trail,
    decode(frame) {
      const request = frame.request;
      if (!request) return CONTINUE;
      const event =
        opts.requestEvent?.(frame) ??
        (opts.requestEvent ? null : { protocol: request.protocol as QueryEvent["protocol"], message: "request", text: request.text, ...(request.parameters ? { params: [...request.parameters] } : {}) });
      if (event) trail.request({ ...event, readOnly: event.readOnly ?? request.attributes?.readOnly === true });
      return CONTINUE;
    },
    async encode(frame) {
      try {
        await trail.answer(opts.answerEvents?.(frame) ?? []);
      } catch (e) {
        return refuse(recordingRefusal(e as Error));
      }
      return gate(trail.beforeDeliver());
    },
    beforeForward: {
      name: "recording-gate",
      async decode() {
        try {
          await trail.settle();
        } catch (e) {
          return refuse(recordingRefusal(e as Error));
        }
        return gate(trail.beforeForward());
      },
    },
  };
}

/** What an engine sends, to either side (worker/engines/engine.ts EngineHost). */
export interface EngineSends {
  sendToClient(parts: readonly Uint8Array[]): void;
  sendControlToClient(message: ControlMessage): void;
  sendToConnector(parts: readonly Uint8Array[]): void;
  connectorControl(message: ControlMessage): void;
}

/**
 * An engine's sends through the trail's gates, for engines that drive the trail themselves: to the
 * target after `beforeForward`, to the client after `beforeDeliver`. When the write fails nothing
 * is sent and `failed` ends the session in the protocol's own way (PostgreSQL FATAL, SSH close).
 */
export function gatedSends(trail: Trail, host: () => EngineSends, failed: (refusal: Refusal) => void): EngineSends {
  const gated =
    <A>(gate: () => Error | undefined, send: (h: EngineSends, a: A) => void) =>
    (a: A): void => {
      const failure = gate();
      if (failure) return failed(recordingRefusal(failure));
      send(host(), a);
    };
  const forward = () => trail.beforeForward();
  const deliver = () => trail.beforeDeliver();
  return {
    sendToClient: gated(deliver, (h, parts: readonly Uint8Array[]) => h.sendToClient(parts)),
    sendControlToClient: gated(deliver, (h, m: ControlMessage) => h.sendControlToClient(m)),
    sendToConnector: gated(forward, (h, parts: readonly Uint8Array[]) => h.sendToConnector(parts)),
    connectorControl: gated(forward, (h, m: ControlMessage) => h.connectorControl(m)),
  };
}
