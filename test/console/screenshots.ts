/**
 * Where the browser tests put their screenshots: into docs/console/ (referenced by docs/CONSOLE.md)
 * only when GATEHOUSE_UPDATE_SCREENSHOTS=1, so a normal `npm test` never rewrites tracked files;
 * otherwise into a temporary directory (the page is still rendered and captured).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
let scratch: string | undefined;

export function screenshotPath(name: string): string {
  if (process.env.GATEHOUSE_UPDATE_SCREENSHOTS === "1") return path.join(ROOT, "docs", "console", name);
  scratch ??= mkdtempSync(path.join(tmpdir(), "gh-console-shots-"));
  return path.join(scratch, name);
}
