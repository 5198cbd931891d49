/**
 * BENCHMARK-ONLY worker build: the product's worker with sessions that do not record, so
 * bench/recording-overhead.ts can measure what recording costs against the real thing in the same
 * run. Never deployed: it is only reachable through bench/recording-off/wrangler.toml.
 */
import { SessionObject as RecordingSessionObject } from "../../worker/index.ts";
import type { OpenedAudit } from "../../worker/session/open-session-audit.ts";

export { default, ConnectorHub, ApprovalsObject, SessionLimiter } from "../../worker/index.ts";

export class SessionObject extends RecordingSessionObject {
  protected override async openAudit(): Promise<OpenedAudit> {
    const none = async () => {};
    return { onQuery: none, onDecision: none, onResult: none, onNotice: none, onMasking: none, onEvent: none, end: none };
  }
}
