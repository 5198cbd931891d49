/**
 * Request masking (shared filter): what approvers and the trail see of a request — literal values
 * masked, structure never hidden (worker/approvals/display.ts for SQL). The request itself is not
 * changed: the exact text runs if allowed. Sets `frame.display`, computed when first read: a
 * request nobody shows costs nothing, and a masking error surfaces where the display is needed
 * (the approval hold then records the failed approval request and refuses: fail closed).
 */
import { CONTINUE, type ChainFrame, type Filter } from "../types.ts";
import type { RequestDescription } from "../types.ts";

export interface RequestMaskingOptions {
  display(request: RequestDescription): { text: string; parameters?: string[] };
}

export function requestMaskingFilter<M>(opts: RequestMaskingOptions): Filter<M> {
  return {
    name: "request-masking",
    decode(frame) {
      const request = frame.request;
      if (!request) return CONTINUE;
      let shown: ChainFrame<M>["display"];
      Object.defineProperty(frame, "display", {
        configurable: true,
        enumerable: true,
        get: () => (shown ??= opts.display(request)),
        set: (value: ChainFrame<M>["display"]) => void (shown = value),
      });
      return CONTINUE;
    },
  };
}
