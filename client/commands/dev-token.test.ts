import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { buildClaims } from "./dev.ts";

const BIN = path.resolve(import.meta.dirname, "../../bin/gatehouse.mjs");
const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

function gatehouse(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("gatehouse dev token (CLI)", () => {
  it("prints only a JWT with the requested subject, groups array and audience", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "gh-cli-"));
    dirs.push(home);
    const r = await gatehouse(["dev", "token", "--sub", "x", "--claim", "groups=a", "--claim", "repository=acme/app", "--ttl", "2m"], {
      GATEHOUSE_HOME: home,
      GATEHOUSE_ISSUER_PORT: "18788",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = decodeJwt(r.stdout.trim());
    expect(claims).toMatchObject({ sub: "x", groups: ["a"], repository: "acme/app", aud: "gatehouse", iss: "http://127.0.0.1:18788" });
    expect(claims.exp! - claims.iat!).toBe(120);
  });

  it("rejects malformed claims with a usage error", async () => {
    const home = await mkdtemp(path.join(tmpdir(), "gh-cli-"));
    dirs.push(home);
    const r = await gatehouse(["dev", "token", "--claim", "novalue"], { GATEHOUSE_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--claim expects key=value");
    expect(r.stdout).toBe("");
  });
});

describe("claim building", () => {
  it("groups is always an array; other claims are strings; --claim-json takes JSON", () => {
    expect(buildClaims(["groups=a", "groups=b", "env=prod"], ['pipeline={"ref":"main","run":7}'])).toEqual({
      groups: ["a", "b"],
      env: "prod",
      pipeline: { ref: "main", run: 7 },
    });
    expect(buildClaims(["groups=approvers"], [])).toEqual({ groups: ["approvers"] });
    expect(() => buildClaims(["env=a", "env=b"], [])).toThrow(/given twice/);
    expect(() => buildClaims([], ["x=nope"])).toThrow(/not JSON/);
  });
});

describe("gatehouse dev token against a running stack", () => {
  it("refuses a key the running issuer does not publish, naming that stack's home", async () => {
    const { startDevIssuer } = await import("../dev/issuer.ts");
    const stackHome = await mkdtemp(path.join(tmpdir(), "gh-stack-"));
    const otherHome = await mkdtemp(path.join(tmpdir(), "gh-other-"));
    dirs.push(stackHome, otherHome);
    const issuer = await startDevIssuer({ port: 0, keyFile: path.join(stackHome, "dev", "issuer-key.json") });
    try {
      const wrong = await gatehouse(["dev", "token", "--sub", "alice"], { GATEHOUSE_HOME: otherHome, GATEHOUSE_ISSUER_URL: issuer.url });
      expect(wrong.code).toBe(1);
      expect(wrong.stdout).toBe("");
      expect(wrong.stderr).toContain(`the development issuer running at ${issuer.url} is the stack in ${stackHome}`);
      expect(wrong.stderr).toContain(`export GATEHOUSE_HOME=${stackHome}`);

      const right = await gatehouse(["dev", "token", "--sub", "alice"], { GATEHOUSE_HOME: stackHome, GATEHOUSE_ISSUER_URL: issuer.url });
      expect(right.code).toBe(0);
      expect(decodeJwt(right.stdout.trim())).toMatchObject({ sub: "alice", iss: issuer.url });
    } finally {
      await issuer.close();
    }
  });
});
