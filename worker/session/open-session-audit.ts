/** Opens the audit trail of one session (see worker/audit/). */
import type { SessionAudit } from "./session-audit.ts";
import type { Env } from "../env.ts";
import type { ClientAdmission } from "./session-object.ts";
import type { SessionOutcome } from "../engines/engine.ts";
import type { SessionStats } from "./session.ts";

export interface OpenedAudit extends SessionAudit {
  end(outcome: SessionOutcome, stats: SessionStats, extra: { connectorId: string | null }): Promise<void>;
}

export async function openSessionAudit(_opts: {
  ctx: DurableObjectState;
  env: Env;
  admission: ClientAdmission;
  policyHash: string;
  mode: "fail-closed" | "best-effort";
}): Promise<OpenedAudit> {
  const noop = async () => {};
  return { onQuery: noop, onDecision: noop, onResult: noop, onNotice: noop, onMasking: noop, onEvent: noop, end: noop };
}
