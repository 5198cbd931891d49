/**
 * Admission and limits (shared filter): a request is refused before anything else looks at it when
 * the session may no longer run requests (ended, past its limits) or the request is larger than
 * the gateway checks exactly (fail closed).
 */
import { CONTINUE, refuse, type Filter, type Refusal } from "../types.ts";

export interface AdmissionOptions {
  /** Null while the session may run requests; otherwise why not. */
  sessionRefusal?(): Refusal | null;
  /** Longest request text (UTF-16 code units) the gateway decides on. */
  maxTextLength?: number;
}

export function admissionFilter<M>(opts: AdmissionOptions): Filter<M> {
  return {
    name: "admission",
    decode(frame) {
      if (!frame.request) return CONTINUE;
      const closed = opts.sessionRefusal?.();
      if (closed) return refuse(closed);
      if (opts.maxTextLength !== undefined && frame.request.text.length > opts.maxTextLength) {
        return refuse({ kind: "limit", message: `gatehouse: request refused: ${frame.request.text.length} characters is more than the ${opts.maxTextLength} this gateway checks` });
      }
      return CONTINUE;
    },
  };
}
