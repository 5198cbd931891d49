/**
 * Issue 20: outside this repository `npx gatehouse` (and `npm install gatehouse`) resolves to an
 * unrelated package on the public registry — it downloads and runs someone else's code. Nothing
 * we ship may tell a user to do that: docs, examples, CLI/worker messages, scripts and CI use the
 * scoped packages (@gatehouse-gw/cli, @gatehouse-gw/connector), a pinned tarball, or this
 * checkout's bin/ on PATH. A line that warns against it (says "never") is the one exception.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "../..");
const SCANNED = ["README.md", "docs", "examples", "client", "connector", "worker", "parsers", "protocols", "scripts", "bin", ".ci", "packages", "tools"];
const SKIP_DIRS = new Set(["node_modules", "dist", "build", ".wrangler"]);

/** A command that fetches a package by its bare (unscoped) gatehouse name. */
const BARE_NAME_INSTALL =
  /\b(?:npx|bunx|npm\s+(?:exec|x|i|install|add)|pnpm\s+(?:dlx|add|install|i)|yarn\s+(?:dlx|add|global\s+add))\s+(?:-{1,2}[\w-]+(?:=\S+)?\s+)*gatehouse(?:-connector)?(?=$|[\s@"'`);|&])/m;

function filesUnder(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  let st;
  try {
    st = statSync(abs);
  } catch {
    return [];
  }
  if (st.isFile()) return [rel];
  return readdirSync(abs, { withFileTypes: true }).flatMap((e) => (SKIP_DIRS.has(e.name) ? [] : filesUnder(path.join(rel, e.name))));
}

describe("no bare package names", () => {
  it("the pattern catches the ways a bare name is fetched, and not the scoped packages", () => {
    for (const bad of [
      "npx gatehouse connect x",
      "npx -y gatehouse",
      "npx --yes gatehouse@latest",
      "npm install -g gatehouse",
      "npm i gatehouse-connector",
      "pnpm dlx gatehouse",
      "bunx gatehouse",
      "$(npx gatehouse dev token)",
    ]) {
      expect(BARE_NAME_INSTALL.test(bad), bad).toBe(true);
    }
    for (const good of [
      "npm install -g @gatehouse-gw/cli",
      "npx @gatehouse-gw/cli connect",
      "npm install --global ./gatehouse-cli.tgz",
      "gatehouse connect demo-pg",
      "npx vitest run",
      "npm install",
    ]) {
      expect(BARE_NAME_INSTALL.test(good), good).toBe(false);
    }
  });

  it("no doc, example, message, script or CI file tells anyone to fetch the bare name", () => {
    const offenders: string[] = [];
    for (const file of SCANNED.flatMap(filesUnder)) {
      if (file.startsWith(path.join("test", "packaging"))) continue;
      const lines = readFileSync(path.join(ROOT, file), "utf8").split("\n");
      lines.forEach((line, i) => {
        if (BARE_NAME_INSTALL.test(line) && !/\bnever\b/i.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
