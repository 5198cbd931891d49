/**
 * `npm run bench [-- options]`: the three benchmark programs with the SAME options (an npm script
 * chaining them with `&&` hands `-- options` to the last one only, so `npm run bench -- --quick`
 * used to run bench/run.ts in full). `--only=` picks sections of bench/run.ts and, by the names
 * `recording` and `tenancy`, the other two programs; without `--only` all three run.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const runTs = path.join(here, "..", "bin", "run-ts.mjs");
const args = process.argv.slice(2);
const onlyArg = args.find((a) => a.startsWith("--only="));
const only = onlyArg?.slice(7).split(",").filter(Boolean);
const OWN = ["recording", "tenancy"];
const runSections = only?.filter((s) => !OWN.includes(s));

const programs: { file: string; args: string[] }[] = [];
if (!only || (runSections?.length ?? 0) > 0) {
  const rest = args.filter((a) => a !== onlyArg);
  programs.push({ file: "run.ts", args: only ? [...rest, `--only=${runSections?.join(",")}`] : rest });
}
// The other two take --quick only.
const quickOnly = args.filter((a) => a === "--quick");
if (!only || only.includes("recording")) programs.push({ file: "recording-overhead.ts", args: quickOnly });
if (!only || only.includes("tenancy")) programs.push({ file: "tenancy.ts", args: quickOnly });

for (const p of programs) {
  const r = spawnSync(process.execPath, [runTs, path.join(here, p.file), ...p.args], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
