/**
 * The independent verifier (tools/verify-trail.py: Python, standard library + Debian's
 * python3-cryptography, no Gatehouse code) checks the golden trail and real trails exported from a
 * psql session and an ssh shell session (real sshd) through the local stack, and finds every tampering at the exact event — the
 * same verdict (kind and seq) as Gatehouse's own verifier, which is run on every case too.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeEventHash, parseKeySet, verifyTrailText, type VerifyErrorKind } from "../../parsers/audit/index.ts";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { run, SSH_OPTS } from "../ssh/run.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VERIFIER = path.join(ROOT, "tools/verify-trail.py");
const GOLDEN = path.join(ROOT, "parsers/audit/golden");
/** Debian's interpreter, where python3-cryptography is installed (CI installs both: .ci/run). */
const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

interface PyResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runPython(args: string[]): Promise<PyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [VERIFIER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface PyVerdict {
  ok: boolean;
  session: string;
  events: number;
  chunks: number;
  complete: boolean;
  kids: string[];
  error?: { seq: number; kind: VerifyErrorKind; message: string; line?: number };
}

async function pyVerify(file: string, keysFile: string): Promise<{ code: number | null; verdict: PyVerdict }> {
  const r = await runPython(["--json", "--keys", keysFile, file]);
  expect(r.stderr).toBe("");
  return { code: r.code, verdict: JSON.parse(r.stdout) as PyVerdict };
}

type Line = Record<string, unknown> & { type: string };
/** A tampering: the edited lines (as text) and the verdict both verifiers must reach. */
interface Tampering {
  name: string;
  lines: string[];
  kind: VerifyErrorKind;
  seq: number;
}

/** Every way an attacker rewrites an export, aimed at event `k` (a query) of the trail. */
async function tamperings(text: string): Promise<Tampering[]> {
  const raw = text.trim().split("\n");
  const parsed = raw.map((l) => JSON.parse(l) as Line);
  const k = parsed.findIndex((l) => l.type === "query");
  expect(k).toBeGreaterThan(0);
  const seq = parsed[k]!.seq as number;
  const event = parsed[k]! as Line & { data: Record<string, unknown>; hash: string };
  const lastCp = parsed.map((l, i) => (l.type === "checkpoint" ? i : -1)).filter((i) => i >= 0);
  const firstCpLine = lastCp[0]!;
  const firstCp = parsed[firstCpLine]!;
  // Cut after the last non-final checkpoint (or before the first one): no final checkpoint remains.
  const cutAt = lastCp.length > 1 ? lastCp[lastCp.length - 2]! + 1 : firstCpLine;
  const cutSeq = lastCp.length > 1 ? (parsed[cutAt - 1]!.last_seq as number) + 1 : 0;
  const replace = (i: number, line: string) => raw.map((l, j) => (j === i ? line : l));

  const rehashed = { ...event, data: { ...event.data, text: "select 1" } };
  rehashed.hash = await computeEventHash(rehashed as never);
  const sig = firstCp.sig as string;
  const flipped = (sig[10] === "A" ? "B" : "A");
  const nextIsEvent = parsed[k + 1]!.type !== "checkpoint";
  const out: Tampering[] = [
    { name: "a recorded field changed", lines: replace(k, JSON.stringify({ ...event, data: { ...event.data, text: "select 1" } })), kind: "altered", seq },
    { name: "a field changed and the event re-hashed", lines: replace(k, JSON.stringify(rehashed)), kind: "altered", seq },
    { name: "the event removed", lines: raw.filter((_, j) => j !== k), kind: "removed", seq },
    { name: "the event duplicated", lines: [...raw.slice(0, k + 1), raw[k]!, ...raw.slice(k + 1)], kind: "inserted", seq },
    { name: "a lone surrogate escape written into it", lines: replace(k, raw[k]!.replace('"text":"', '"text":"\\ud800')), kind: "altered", seq },
    { name: "a number without double form written into it", lines: replace(k, raw[k]!.replace(`"seq":${seq},`, `"seq":${seq},"x":1e400,`)), kind: "altered", seq },
    { name: "a line that is not JSON", lines: replace(k, raw[k]!.slice(0, -1)), kind: "altered", seq: -1 },
    { name: "a checkpoint signature changed", lines: replace(firstCpLine, JSON.stringify({ ...firstCp, sig: sig.slice(0, 10) + flipped + sig.slice(11) })), kind: "bad-signature", seq: firstCp.last_seq as number },
    { name: "a checkpoint claimed by another key", lines: replace(firstCpLine, JSON.stringify({ ...firstCp, kid: "attacker-key" })), kind: "unknown-key", seq: firstCp.last_seq as number },
    { name: "the end of the trail cut off", lines: raw.slice(0, cutAt), kind: "truncated", seq: cutSeq },
  ];
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const lastSigChar = B64.indexOf(sig[sig.length - 1]!);
  out.push(
    // What other tools show (the first "data") differs from what is hashed (the last one).
    { name: "a duplicated key whose first value lies", lines: replace(k, raw[k]!.replace('{"data":', '{"data":{"text":"select 1"},"data":')), kind: "altered", seq },
    { name: "a character spelled as an escape", lines: replace(k, raw[k]!.replace('"type":"query"', '"type":"\\u0071uery"')), kind: "altered", seq },
    // The last base64url character of a 64-byte signature carries 4 unused bits: same bytes, other text.
    { name: "unused bits of the signature set", lines: replace(firstCpLine, JSON.stringify({ ...firstCp, sig: sig.slice(0, -1) + B64[lastSigChar | 1] })), kind: "bad-signature", seq: firstCp.last_seq as number },
  );
  if (nextIsEvent) {
    out.push({ name: "two events swapped", lines: [...raw.slice(0, k), raw[k + 1]!, raw[k]!, ...raw.slice(k + 2)], kind: "reordered", seq });
  }
  return out;
}

/** Runs every tampering through both verifiers; they must agree with the expected verdict. */
async function expectAllCaught(text: string, keysFile: string, dir: string): Promise<number> {
  const keys = parseKeySet(JSON.parse(await readFile(keysFile, "utf8")));
  const cases = await tamperings(text);
  for (const [i, t] of cases.entries()) {
    const file = path.join(dir, `tampered-${i}.jsonl`);
    const body = t.lines.join("\n") + "\n";
    await writeFile(file, body);
    const py = await pyVerify(file, keysFile);
    const ts = await verifyTrailText(body, { keys });
    expect(py.code, t.name).toBe(1);
    expect(py.verdict.ok, t.name).toBe(false);
    expect(ts.ok, t.name).toBe(false);
    expect(py.verdict.error?.kind, t.name).toBe(t.kind);
    expect(py.verdict.error?.seq, t.name).toBe(t.seq);
    // Same verdict as Gatehouse's own verifier: kind, event and line.
    expect({ kind: py.verdict.error?.kind, seq: py.verdict.error?.seq, line: py.verdict.error?.line }, t.name).toEqual({ kind: ts.error?.kind, seq: ts.error?.seq, line: ts.error?.line });
  }
  return cases.length;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gatehouse-pyverify-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tools/verify-trail.py on the golden vectors", () => {
  const keysFile = path.join(GOLDEN, "audit-keys.json");
  const trailFile = path.join(GOLDEN, "audit-trail.jsonl");

  it("passes its RFC 8785 self-test (the RFC's examples and Appendix B numbers)", async () => {
    const r = await runPython(["--self-test"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("self-test: 0 failures");
    expect(r.code).toBe(0);
  });

  it("verifies the golden trail: every hash, the chain and the three signed checkpoints", async () => {
    const { code, verdict } = await pyVerify(trailFile, keysFile);
    expect(verdict).toMatchObject({ ok: true, complete: true, events: 29, chunks: 3, kids: ["golden-test-2026"], session: "0f8e6a52-7b1c-4c1e-9d6a-3a2b1c0d9e8f" });
    expect(code).toBe(0);
    const human = await runPython(["--keys", keysFile, trailFile]);
    expect(human.stdout).toMatch(/^verified: session 0f8e6a52-.* 29 events in 3 signed chunks/);
  });

  it("refuses the golden trail with a key set that does not hold its key", async () => {
    const other = path.join(dir, "other-keys.json");
    await writeFile(other, JSON.stringify({ keys: [{ kid: "someone-else", kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] }));
    const { code, verdict } = await pyVerify(trailFile, other);
    expect(code).toBe(1);
    expect(verdict.error).toMatchObject({ kind: "unknown-key", seq: 6 });
  });

  it("applies --session, --chunks and --open as Gatehouse's verifier applies sessionId, expectedChunks and requireComplete", async () => {
    const text = await readFile(trailFile, "utf8");
    const keys = parseKeySet(JSON.parse(await readFile(keysFile, "utf8")));
    const cut = path.join(dir, "golden-open.jsonl");
    const lines = text.trim().split("\n");
    await writeFile(cut, lines.slice(0, lines.findIndex((l, i) => i > 8 && l.includes('"type":"checkpoint"')) + 1).join("\n") + "\n");
    const cases: [string[], string, Parameters<typeof verifyTrailText>[1]][] = [
      [["--session", "another-session"], trailFile, { keys, sessionId: "another-session" }],
      [["--chunks", "4"], trailFile, { keys, expectedChunks: 4 }],
      [["--chunks", "2"], trailFile, { keys, expectedChunks: 2 }],
      [[], cut, { keys }],
      [["--open"], cut, { keys, requireComplete: false }],
    ];
    const verdicts = [];
    for (const [flags, file, options] of cases) {
      const r = await runPython(["--json", "--keys", keysFile, ...flags, file]);
      const py = JSON.parse(r.stdout) as PyVerdict;
      const ts = await verifyTrailText(await readFile(file, "utf8"), options);
      expect({ ok: py.ok, kind: py.error?.kind, seq: py.error?.seq, events: py.events, chunks: py.chunks }, flags.join(" ")).toEqual({ ok: ts.ok, kind: ts.error?.kind, seq: ts.error?.seq, events: ts.events, chunks: ts.chunks });
      expect(r.code).toBe(py.ok ? 0 : 1);
      verdicts.push(py.ok ? "ok" : `${py.error!.kind}@${py.error!.seq}`);
    }
    expect(verdicts).toEqual(["altered@0", "truncated@29", "inserted@29", "truncated@20", "ok"]);
  });

  it("finds each tampering of the golden trail at the exact event, as Gatehouse's verifier does", async () => {
    const n = await expectAllCaught(await readFile(trailFile, "utf8"), keysFile, dir);
    expect(n).toBe(14);
  });
});

const POLICY = `
version: 1
roles:
  auditor:
    - issuer: http://127.0.0.1:8788
      claims: { groups: auditors }
rules:
  - name: pyv-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
  - name: pyv-no-ddl
    effect: deny
    subjects: any
    resources: any
    actions: [sql.ddl]
`;

describe("tools/verify-trail.py on a real exported trail", () => {
  let stack: TestStack;
  let exportFile: string;
  let keysFile: string;

  beforeAll(async () => {
    stack = await startTestStack({ policyYaml: POLICY });
    const auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "pyverify-auditor", claims: { groups: ["auditors"] } }) };
    const conn = await stack.connect("demo-pg", { sub: "pyverify-bot", claims: { repository: "acme/api", ref: "refs/heads/main", note: "é 😀 \u2028 \"q\"" } });
    const ok = await psql(conn.url, ["-A", "-t", "-c", "select name from customers order by id limit 3", "-c", "select 'é 😀 ' || chr(9) || E'\\\\' as odd, 0.1::float8 * 3 as f"]);
    expect(ok.code).toBe(0);
    const denied = await psql(conn.url, ["-c", "drop table orders"]);
    expect(denied.code).not.toBe(0);
    await conn.stop();

    // The session's trail is complete once session.end is sealed by the final checkpoint.
    const sessionId = await eventually(async () => {
      const list = await gatehouse(["sessions", "list", "--identity", "pyverify-bot", "--json"], auditorEnv);
      if (list.code !== 0) return undefined;
      const parsed = JSON.parse(list.stdout) as { sessions: { id: string; complete: boolean; ended_at: number | null }[] };
      const done = parsed.sessions.filter((s) => s.complete && s.ended_at !== null);
      return done.length === 2 ? done[done.length - 1]!.id : undefined;
    }, "both sessions recorded completely");

    exportFile = path.join(dir, "real-export.jsonl");
    const exported = await gatehouse(["sessions", "export", sessionId, "--output", exportFile], auditorEnv);
    expect(exported.code).toBe(0);
    keysFile = path.join(dir, "real-keys.json");
    await writeFile(keysFile, JSON.stringify(await (await fetch(`${stack.gatewayUrl}/.well-known/gatehouse-audit-keys`)).json()));
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("verifies the export with the gateway's published keys, as `gatehouse sessions verify` does", async () => {
    const { code, verdict } = await pyVerify(exportFile, keysFile);
    expect(verdict.error).toBeUndefined();
    expect(verdict.ok).toBe(true);
    expect(verdict.complete).toBe(true);
    const lines = (await readFile(exportFile, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Line);
    expect(verdict.events).toBe(lines.filter((l) => l.type !== "checkpoint").length);
    expect(verdict.chunks).toBe(lines.filter((l) => l.type === "checkpoint").length);
    expect(lines.some((l) => l.type === "query" && JSON.stringify(l).includes("é 😀"))).toBe(true);
    expect(code).toBe(0);
    const cli = await gatehouse(["sessions", "verify", "--file", exportFile, "--keys", keysFile]);
    expect(cli.code).toBe(0);
  });

  it("finds each tampering of the real export at the exact event, as Gatehouse's verifier does", async () => {
    const n = await expectAllCaught(await readFile(exportFile, "utf8"), keysFile, dir);
    expect(n).toBeGreaterThanOrEqual(13);
  });
});

describe("tools/verify-trail.py on a real SSH shell session's trail", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let exportFile: string;
  let keysFile: string;

  beforeAll(async () => {
    sshd = await startTestSshd();
    const policyYaml = `
version: 1
roles:
  auditor:
    - claims: { groups: auditors }
rules:
  - name: pyv-ssh
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions: [connect, ssh.exec, ssh.shell]
`;
    stack = await startTestStack({ policyYaml, extraResources: [sshdResource(sshd, "demo-ssh")] });
    const conn = await stack.connect("demo-ssh", { sub: "pyverify-ssh" });
    // A terminal session: colour escapes, UTF-8 and a resize-free pty, as a person would type.
    const r = await run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "-tt", "pipeline@127.0.0.1"], { input: "printf '\\033[1;32mgreen\\033[0m é😀 tab\\there\\n'\nexit 4\n" });
    expect(r.stdout, r.stderr).toContain("green");
    expect(r.status).toBe(4);
    await conn.stop();

    const auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "pyverify-ssh-auditor", claims: { groups: ["auditors"] } }) };
    const sessionId = await eventually(async () => {
      const list = await gatehouse(["sessions", "list", "--identity", "pyverify-ssh", "--json"], auditorEnv);
      if (list.code !== 0) return undefined;
      const done = (JSON.parse(list.stdout) as { sessions: { id: string; complete: boolean; ended_at: number | null }[] }).sessions.filter((s) => s.complete && s.ended_at !== null);
      return done.length === 1 ? done[0]!.id : undefined;
    }, "the SSH session recorded completely");
    exportFile = path.join(dir, "ssh-export.jsonl");
    expect((await gatehouse(["sessions", "export", sessionId, "--output", exportFile], auditorEnv)).code).toBe(0);
    keysFile = path.join(dir, "ssh-keys.json");
    await writeFile(keysFile, JSON.stringify(await (await fetch(`${stack.gatewayUrl}/.well-known/gatehouse-audit-keys`)).json()));
  }, 240_000);

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
  });

  it("verifies the terminal trail (escape sequences, UTF-8 output) and finds a rewritten output at its event", async () => {
    const text = await readFile(exportFile, "utf8");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l) as Line & { data: Record<string, unknown> });
    const output = lines.findIndex((l) => l.type === "term.output" && String(l.data.data).includes("\u001b[1;32mgreen"));
    expect(output).toBeGreaterThan(0);
    const { code, verdict } = await pyVerify(exportFile, keysFile);
    expect(verdict.error).toBeUndefined();
    expect(verdict).toMatchObject({ ok: true, complete: true });
    expect(code).toBe(0);

    const raw = text.trim().split("\n");
    raw[output] = raw[output]!.replace("green", "GREEN");
    const tampered = path.join(dir, "ssh-tampered.jsonl");
    await writeFile(tampered, raw.join("\n") + "\n");
    const caught = await pyVerify(tampered, keysFile);
    expect(caught.code).toBe(1);
    expect(caught.verdict.error).toMatchObject({ kind: "altered", seq: lines[output]!.seq, line: output + 1 });
  });
});
