/** Helpers for the workerd tests of the session object (imported by *.test.ts only). */
import { vi } from "vitest";
import { runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import type { SessionObject } from "./session-object.ts";

/** How long to wait for what must happen (a loaded machine is slow; nothing here measures time). */
export const WAIT = { timeout: 20_000, interval: 20 };

export interface HeldRecorder {
  /** Resolves once the object reached its recorder (session.start not written yet). */
  called: () => Promise<boolean>;
  /** Let the recorder go on (or fail with `failWith`). */
  release: () => Promise<void>;
}

/**
 * Hold a session object's recorder back: session.start is written only once `release` is called
 * (or fails with `failWith`) — the moment between the object's start and its registration. With
 * `env`, the object runs with that Env (hosted mode: the tenant's, as objectEnv gives it). Both
 * ends of the gate run in the object's own context (a promise settled from the test's context
 * would continue the object's work there).
 */
export async function holdRecorder(stub: DurableObjectStub<SessionObject>, opts: { failWith?: Error; env?: Env; hold?: boolean } = {}): Promise<HeldRecorder> {
  const gate: { called: boolean; open?: () => void } = { called: false };
  await runInDurableObject(stub, (object: SessionObject) => {
    if (opts.env) (object as unknown as { env: Env }).env = opts.env;
    if (opts.hold === false) return;
    const hooks = object as unknown as { openAudit: (o: unknown) => Promise<unknown> };
    const original = hooks.openAudit.bind(object);
    hooks.openAudit = async (o) => {
      await new Promise<void>((resolve) => {
        gate.open = resolve;
        gate.called = true;
      });
      if (opts.failWith) throw opts.failWith;
      return original(o);
    };
  });
  return {
    called: () =>
      vi.waitFor(() => {
        if (!gate.called) throw new Error("the recorder was not reached yet");
        return true;
      }, WAIT),
    release: () => runInDurableObject(stub, () => gate.open!()),
  };
}
