/**
 * Everything a session's configuration must satisfy, checked before anything is recorded: a
 * session that cannot run leaves no `session.start` behind (and so never a start without an end).
 * The SessionObject opens the audit trail only after `validateSession` said yes.
 */
import type { ResourceInfo } from "../../parsers/identity.ts";
import { compileConfig, type MaskingRule } from "../../parsers/masking/config.ts";
import type { Refusal } from "../../protocols/types.ts";
import { workerProtocol } from "../../protocols/registry-worker.ts";
import type { WorkerProtocol } from "../engines/engine.ts";

export type SessionValidation = { ok: true; protocol: WorkerProtocol } | { ok: false; refusal: Refusal };

export function validateSession(resource: ResourceInfo, policy: { maskingConfig(): { rules: MaskingRule[]; hashKey?: string } }): SessionValidation {
  const protocol = workerProtocol(resource.type);
  // A type no protocol module serves is refused: unchecked bytes are never relayed.
  if (!protocol) return { ok: false, refusal: { kind: "invalid", code: "0A000", message: `gatehouse: resource type ${resource.type} is not supported by this gateway` } };
  try {
    // Never serve unmasked what the policy says to mask.
    compileConfig(policy.maskingConfig());
  } catch (e) {
    return { ok: false, refusal: { kind: "invalid", code: "F0000", message: `gatehouse: the masking configuration for ${resource.name} is invalid: ${(e as Error).message}` } };
  }
  return { ok: true, protocol };
}
