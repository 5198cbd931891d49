/**
 * The shared filter chain (Envoy-style), protocol-neutral: every protocol engine describes each
 * client message it decodes as a `RequestDescription`, and shared filters (admission/limits,
 * policy decision, approval hold, request masking, recording, result masking, timeouts) act on
 * that description — never on protocol bytes. Decode (client → target) runs the filters in order
 * and ends at the forwarder; encode (target → client) runs them in reverse and ends at delivery.
 * A filter answers continue / stop (resume later: the approval hold) / replace / refuse; a refusal
 * is turned into the client's own protocol by the protocol module's refusal encoder.
 *
 * This file is the chain API other protocol modules build on (docs/ARCHITECTURE.md, "Filter chain"):
 * keep it small and stable.
 */
import type { Decision } from "../../parsers/policy/types.ts";

export type { RequestDescription, Refusal, RefusalKind } from "../../protocols/types.ts";
import type { RequestDescription, Refusal } from "../../protocols/types.ts";

/** One protocol message travelling through the chain, with what filters learned about it. */
export interface ChainFrame<M> {
  /** The protocol message (replaced by a filter's `replace`). */
  message: M;
  /** What it asks for; null for messages that ask nothing (a Sync, a window adjust, a response). */
  readonly request: RequestDescription | null;
  readonly direction: Direction;
  /** Set by the policy-decision filter. */
  decision?: Decision;
  /** Set by the request-masking filter: what approvers and the trail see (literal values masked). */
  display?: { text: string; parameters?: string[] };
  /** Per-message scratch space for filters, keyed by filter name. */
  readonly notes: Map<string, unknown>;
}

export type Direction = "decode" | "encode";

export type FilterResult<M> =
  | { readonly kind: "continue" }
  /** The chain stops at this filter; later messages of the same direction queue behind it. `resume` says how to go on. */
  | { readonly kind: "stop"; readonly resume: Promise<FilterResult<M>> }
  | { readonly kind: "replace"; readonly message: M }
  | { readonly kind: "refuse"; readonly refusal: Refusal };

type Awaitable<T> = T | Promise<T>;

export interface Filter<M> {
  /** Names the filter in refusals, notes and the trail. */
  readonly name: string;
  /** Client → target, in chain order. Absent: the filter passes this direction. */
  decode?(frame: ChainFrame<M>): Awaitable<FilterResult<M>>;
  /** Target → client, in reverse chain order. */
  encode?(frame: ChainFrame<M>): Awaitable<FilterResult<M>>;
}

/** Where the chain ends: supplied by the protocol engine. */
export interface ChainEnds<M> {
  /** The forwarder, after the last decode filter (towards the target). */
  forward(frame: ChainFrame<M>): Awaitable<void>;
  /** After the first filter's encode (towards the client). */
  deliver(frame: ChainFrame<M>): Awaitable<void>;
  /** A filter refused: answer in the client's own protocol (the protocol module's refusal encoder). */
  refuse(refusal: Refusal, frame: ChainFrame<M>): Awaitable<void>;
}

export type ChainOutcome<M> =
  | { readonly kind: "passed"; readonly frame: ChainFrame<M> }
  | { readonly kind: "refused"; readonly refusal: Refusal; readonly by: string; readonly frame: ChainFrame<M> };

export const CONTINUE: FilterResult<never> = Object.freeze({ kind: "continue" });
export const stop = <M>(resume: Promise<FilterResult<M>>): FilterResult<M> => ({ kind: "stop", resume });
export const replace = <M>(message: M): FilterResult<M> => ({ kind: "replace", message });
export const refuse = (refusal: Refusal): FilterResult<never> => ({ kind: "refuse", refusal });
