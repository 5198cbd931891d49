/** Opens the tamper-evident audit trail of one session (worker/audit/): records session.start now. */
import type { SessionAudit } from "./session-audit.ts";
import type { Env } from "../env.ts";
import type { ClientAdmission } from "./admission.ts";
import type { SessionOutcome } from "../engines/engine.ts";
import type { SessionStats } from "./session.ts";
import { openRecorderAudit } from "../audit/open-recorder-audit.ts";

export interface OpenedAudit extends SessionAudit {
  end(outcome: SessionOutcome, stats: SessionStats, extra: { connectorId: string | null }): Promise<void>;
}

export async function openSessionAudit(opts: {
  ctx: DurableObjectState;
  env: Env;
  admission: ClientAdmission;
  policyHash: string;
  mode: "fail-closed" | "best-effort";
}): Promise<OpenedAudit> {
  return openRecorderAudit(opts);
}
