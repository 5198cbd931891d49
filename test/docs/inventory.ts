/**
 * Prints every shell block of README.md and docs/*.md and what happens to it:
 *   node bin/run-ts.mjs test/docs/inventory.ts [--markdown]
 * runnable (executed by docs-run.test.ts), not-run (marked, with the reason), unmarked or
 * unlabelled (both fail marked-blocks.test.ts).
 */
import path from "node:path";
import { documentationFiles, shellBlocks } from "./runnable-blocks.ts";

const root = path.resolve(import.meta.dirname, "../..");
const markdown = process.argv.includes("--markdown");
const counts = new Map<string, number>();
if (markdown) console.log("| block | kind | first line / reason |\n|---|---|---|");
for (const { file, text } of documentationFiles(root)) {
  for (const b of shellBlocks(file, text)) {
    counts.set(b.kind, (counts.get(b.kind) ?? 0) + 1);
    const first = (b.body.find((l) => l.trim()) ?? "").trim().slice(0, 90);
    const what = b.kind === "not-run" ? b.reason! : first;
    console.log(markdown ? `| ${file}:${b.line} | ${b.kind} | ${what.replace(/\|/g, "\\|")} |` : `${`${file}:${b.line}`.padEnd(26)} ${b.kind.padEnd(10)} ${what}`);
  }
}
console.log(`\n${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}`);
