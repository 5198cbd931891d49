/** Audit trail core: event model, canonical form, hash chain, checkpoints, verification, renderings, review. */
export * from "./types.ts";
export { canonicalize, JcsError } from "../encoding/jcs.ts";
export * from "./bytes.ts";
export * from "./chain.ts";
export * from "./signing.ts";
export * from "./jsonl.ts";
export * from "./verify.ts";
export * from "./bounds.ts";
export * from "./trail.ts";
export * from "./identity-summary.ts";
export * from "./replay.ts";
export * from "./review.ts";
