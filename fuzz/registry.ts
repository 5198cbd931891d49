/** Finds a target by name in the codec table (targets.ts) or in extra target modules. */
import { pathToFileURL } from "node:url";
import type { FuzzTarget } from "./target.ts";
import { FUZZ_TARGETS } from "./targets.ts";

export async function allTargets(extraModules: readonly string[] = []): Promise<FuzzTarget[]> {
  const out = [...FUZZ_TARGETS];
  for (const path of extraModules) {
    const mod = (await import(pathToFileURL(path).href)) as { FUZZ_TARGETS: readonly FuzzTarget[] };
    out.push(...mod.FUZZ_TARGETS);
  }
  return out;
}

export async function resolveTarget(name: string, extraModules: readonly string[] = []): Promise<FuzzTarget> {
  const target = (await allTargets(extraModules)).find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target named ${JSON.stringify(name)}`);
  return target;
}
