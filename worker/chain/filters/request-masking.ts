/**
 * Request masking (shared filter): what approvers and the trail see of a request — literal values
 * masked, structure never hidden (worker/approvals/display.ts for SQL). The request itself is not
 * changed: the exact text runs if allowed. Sets `frame.display`.
 */
import { CONTINUE, type Filter } from "../types.ts";
import type { RequestDescription } from "../types.ts";

export interface RequestMaskingOptions {
  display(request: RequestDescription): { text: string; parameters?: string[] };
}

export function requestMaskingFilter<M>(opts: RequestMaskingOptions): Filter<M> {
  return {
    name: "request-masking",
    decode(frame) {
      if (frame.request) frame.display = opts.display(frame.request);
      return CONTINUE;
    },
  };
}
