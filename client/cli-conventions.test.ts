import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { closest, editDistance } from "./suggest.ts";
import { completionScript } from "./commands/completion.ts";
import { colourEnabled, paint } from "./colour.ts";
import { EXIT } from "./exit-codes.ts";
import { COMMAND_TREE } from "./command-tree.ts";
import { CLIENT_VERSION } from "./version.ts";
import { CONNECTOR_VERSION } from "../connector/version.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function run(bin: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, "bin", bin), ...args], { env: { ...process.env, GATEHOUSE_TOKEN: "", ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("did you mean", () => {
  it("suggests the closest command or flag, and nothing for noise", () => {
    expect(editDistance("sesions", "sessions")).toBe(1);
    expect(editDistance("aprovals", "approvals")).toBe(1);
    expect(editDistance("cnonect", "connect")).toBe(1);
    expect(closest("sesions", Object.keys(COMMAND_TREE))).toBe("sessions");
    expect(closest("conect", Object.keys(COMMAND_TREE))).toBe("connect");
    expect(closest("doc", Object.keys(COMMAND_TREE))).toBe("doctor");
    expect(closest("xyzzy", Object.keys(COMMAND_TREE))).toBeUndefined();
    expect(closest("prot", ["port", "once", "gateway"])).toBe("port");
  });

  it("is printed for a mistyped command, subcommand and flag (exit 2)", async () => {
    const cmd = await run("gatehouse.mjs", ["sesions", "list"]);
    expect(cmd.code).toBe(EXIT.USAGE);
    expect(cmd.stderr).toContain('unknown command "sesions" (did you mean "sessions"?)');
    const sub = await run("gatehouse.mjs", ["approvals", "lsit"]);
    expect(sub.code).toBe(EXIT.USAGE);
    expect(sub.stderr).toContain('(did you mean "list"?)');
    const flag = await run("gatehouse.mjs", ["connect", "demo-pg", "--prot", "5433"]);
    expect(flag.code).toBe(EXIT.USAGE);
    expect(flag.stderr).toContain('unknown option --prot (did you mean "--port"?)');
  });
});

describe("--version", () => {
  it("both binaries print the package version", async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { version: string };
    expect(CLIENT_VERSION).toBe(pkg.version);
    expect(CONNECTOR_VERSION).toBe(pkg.version);
    const client = await run("gatehouse.mjs", ["--version"]);
    expect(client).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
    const connector = await run("gatehouse-connector.mjs", ["--version"]);
    expect(connector).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});

describe("gatehouse completion", () => {
  it("emits a script for bash, zsh and fish naming every command", async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const script = completionScript(shell);
      for (const cmd of Object.keys(COMMAND_TREE)) expect(script).toContain(cmd);
      expect(script).toContain("replay");
    }
    const r = await run("gatehouse.mjs", ["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("complete -o default -F _gatehouse gatehouse");
    const bad = await run("gatehouse.mjs", ["completion", "bsh"]);
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toContain('(did you mean "bash"?)');
  });

  it("the bash script completes subcommands in a real bash", async () => {
    const script = completionScript("bash");
    const out = await new Promise<string>((resolve, reject) =>
      execFile("bash", ["-c", `${script}\nCOMP_WORDS=(gatehouse sessions re); COMP_CWORD=2; _gatehouse; echo "\${COMPREPLY[@]}"`], (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    expect(out.trim().split(" ").sort()).toEqual(["replay"]);
  });
});

describe("colour", () => {
  it("only on a terminal, never with NO_COLOR or TERM=dumb", () => {
    expect(colourEnabled({ isTTY: true }, {})).toBe(true);
    expect(colourEnabled({ isTTY: false }, {})).toBe(false);
    expect(colourEnabled({}, {})).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colourEnabled({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(colourEnabled({ isTTY: true }, { TERM: "dumb" })).toBe(false);
    expect(paint(false).bad("x")).toBe("x");
    expect(paint(true).bad("x")).toBe("\x1b[31mx\x1b[0m");
  });
});

describe("exit codes", () => {
  it("exec exits 255 when the gateway cannot be reached, like ssh", async () => {
    const r = await run("gatehouse.mjs", ["exec", "demo-ssh", "--", "true"], { GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln" });
    expect(r.code).toBe(EXIT.GATEWAY);
    expect(r.stderr).toContain("cannot reach the gateway");
  });

  it("exec exits 255 without a token, 2 on a usage error", async () => {
    expect((await run("gatehouse.mjs", ["exec", "demo-ssh", "--", "true"], { GATEHOUSE_URL: "http://127.0.0.1:9" })).code).toBe(EXIT.GATEWAY);
    expect((await run("gatehouse.mjs", ["exec", "demo-ssh"])).code).toBe(EXIT.USAGE);
  });

  it("docs/CLI.md's table lists exactly the codes the CLI uses", () => {
    const doc = readFileSync(path.join(ROOT, "docs/CLI.md"), "utf8");
    const table = [...doc.matchAll(/^\| `(\d+)` \|/gm)].map((m) => Number(m[1]));
    expect(table.sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });
});
