/** The shared filter chain: types, runner and the shared filters (docs/ARCHITECTURE.md, "Filter chain"). */
export * from "./types.ts";
export { FilterChain } from "./chain.ts";
export { admissionFilter, type AdmissionOptions } from "./filters/admission.ts";
export { policyDecisionFilter, decisionEvent, type PolicyDecisionOptions } from "./filters/policy-decision.ts";
export { approvalHoldFilter, type ApprovalHoldOptions } from "./filters/approval-hold.ts";
export { requestMaskingFilter, type RequestMaskingOptions } from "./filters/request-masking.ts";
export { resultMaskingFilter, type ResultMaskingFilter, type ResultMaskingOptions, type StreamMasker } from "./filters/result-masking.ts";
export {
  recordingFilter,
  recordingRefusal,
  gatedSends,
  Trail,
  type RecordingFilter,
  type RecordingOptions,
  type RecordOptions,
  type RequestEvent,
  type AnswerRecord,
  type TrailAudit,
  type EngineSends,
} from "./filters/recording.ts";
export { timeoutFilter, type TimeoutFilter, type TimeoutOptions } from "./filters/timeout.ts";
export { decidedFilter, type Decided } from "./filters/decided.ts";
