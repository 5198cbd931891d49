/**
 * SSH masking end to end against a real OpenSSH sshd, through the real worker, connector and
 * client, with the real ssh, scp, sftp and rsync: secrets written into files on the host (the
 * ground truth) are printed in pieces with pauses between them, on stdout and stderr, in long
 * lines, on a pty with escape sequences between the pieces, typed into a shell, and downloaded
 * with sftp and scp, and printed reversed, in base64 and in hex. None of them may reach the client,
 * and the trail read back through the sessions API may hold neither them nor their reversed,
 * base64 or hex forms.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { main } from "../../client/cli.ts";
import { run, SSH_OPTS, type Run } from "./run.ts";

const SECRETS = {
  github: `ghp_${"R8s2Kq7Lm3Nx9Vb4Tz6W".repeat(2).slice(0, 36)}`,
  aws: "AKIAQ3EGRX5LDKV7PZ2M",
  email: "ops.lead@acme-corp.io",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaS1ib3QifQ.Zm9vYmFyYmF6cXV4cXV1eA",
  card: "4539 1488 0343 6467",
};
const ALL = Object.values(SECRETS);

/** The secret and its trivial encodings: none of them may be in the trail. */
function forms(secret: string): string[] {
  return [secret, [...secret].reverse().join(""), Buffer.from(secret).toString("base64"), Buffer.from(secret).toString("hex")];
}

describe("SSH masking end to end (real sshd, ssh, scp, sftp, rsync)", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection;
  let local: string;
  /** Connections made through the gateway (one session each): their trails are checked at the end. */
  let sessionsOpened = 0;
  const ssh = (args: string[], input?: string): Promise<Run> => {
    sessionsOpened++;
    return run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", ...args], { input, timeoutMs: 60_000 });
  };
  const expectNoSecret = (r: Run, what: string) => {
    for (const s of ALL) {
      expect(r.stdout, `${what}: stdout`).not.toContain(s);
      expect(r.stderr, `${what}: stderr`).not.toContain(s);
    }
  };

  beforeAll(async () => {
    sshd = await startTestSshd();
    const owner = statSync(sshd.home);
    const put = (name: string, content: string) => {
      const file = path.join(sshd.home, name);
      writeFileSync(file, content);
      chownSync(file, owner.uid, owner.gid);
    };
    put("secrets.txt", ALL.map((s) => `${s}\n`).join(""));
    for (const [name, s] of Object.entries(SECRETS)) put(`${name}.txt`, s);
    put("long.txt", `${"x".repeat(5000)} ${SECRETS.github} ${"y".repeat(5000)}\n`);
    mkdirSync(path.join(sshd.home, "keys"));
    chownSync(path.join(sshd.home, "keys"), owner.uid, owner.gid);
    put(`keys/${SECRETS.aws}.key`, "named after a secret\n");
    local = mkdtempSync(path.join(tmpdir(), "gatehouse-ssh-mask-"));
    stack = await startTestStack({
      policyYaml: `
version: 1
roles:
  auditor:
    - claims: { groups: auditors }
rules:
  - name: ssh-ops
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions: [connect, ssh.exec, ssh.shell, { ssh: { sftp: [read, list] } }]
masking:
  rules:
    - name: ssh-detectors
      resources: { type: ssh }
      detectors: [all]
      style: redact
`,
      extraResources: [sshdResource(sshd, "demo-ssh")],
    });
    conn = await stack.connect("demo-ssh");
  });

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  it("masks a secret printed in two pieces with a pause between them (printf a; sleep; printf b)", async () => {
    // Each file holds one secret; the host prints its first half, sleeps, then the rest.
    const lines = Object.keys(SECRETS).map((name) => `head -c 9 ${name}.txt; sleep 2; tail -c +10 ${name}.txt; echo " <${name}"`);
    lines.unshift(`cd ${sshd.home}`);
    const r = await ssh([lines.join("; ")]);
    expect(r.status, `${r.stderr}\n${conn.logs.join("\n")}`).toBe(0);
    expectNoSecret(r, "split writes");
    for (const name of Object.keys(SECRETS)) expect(r.stdout).toContain(`[REDACTED] <${name}\n`);
  });

  it("masks a secret in a long line written in pieces, and on stderr", async () => {
    let r = await ssh([`cd ${sshd.home}; head -c 5004 long.txt; sleep 1; tail -c +5005 long.txt | dd bs=101 status=none`]);
    expect(r.status).toBe(0);
    expectNoSecret(r, "long line");
    expect(r.stdout).toBe(`${"x".repeat(5000)} [REDACTED] ${"y".repeat(5000)}\n`);

    r = await ssh([`cd ${sshd.home}; head -c 7 aws.txt >&2; sleep 1; echo between; tail -c +8 aws.txt >&2; echo >&2`]);
    expect(r.status).toBe(0);
    expectNoSecret(r, "stderr");
    expect(r.stderr).toBe("[REDACTED]\n");
    expect(r.stdout).toBe("between\n");
  });

  it("masks on a pty: escape sequences, backspaces and cursor movement between the pieces, and secrets typed into the shell", async () => {
    const script = [
      `cd ${sshd.home}`,
      `head -c 9 github.txt; printf '\\033[0m'; sleep 1; tail -c +10 github.txt; echo`,
      `head -c 6 aws.txt; printf 'X\\b'; sleep 1; tail -c +7 aws.txt; echo`,
      `head -c 17 aws.txt; printf 'xyz\\033[3D'; sleep 1; tail -c +18 aws.txt; echo`,
      `cat secrets.txt`,
      `echo typed ${SECRETS.email}`,
      `exit`,
      "",
    ].join("\n");
    const r = await ssh(["-tt"], script);
    expect(r.status).toBe(0);
    // What a terminal would show (escapes removed, backspace applied) holds no secret either.
    const shown = r.stdout.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "").replace(/.\x08/g, "");
    for (const s of ALL) expect(shown).not.toContain(s);
    expectNoSecret(r, "pty");
    expect(shown).toContain("typed [REDACTED]");
    // Three split secrets, the five of secrets.txt, the typed e-mail (echoed by the pty and printed).
    expect((shown.match(/\[REDACTED\]/g) ?? []).length).toBeGreaterThanOrEqual(3 + ALL.length + 2);
  });

  it("masks secrets printed reversed, in base64 and in hex (rev, base64, xxd -p)", async () => {
    const file = readFileSync(path.join(sshd.home, "secrets.txt"));
    const b64 = file.toString("base64");
    const hex = file.toString("hex");
    for (const command of ["rev secrets.txt", "base64 secrets.txt", "base64 -w0 secrets.txt", "xxd -p secrets.txt"]) {
      const r = await ssh([`cd ${sshd.home}; ${command}`]);
      expect(r.status, r.stderr).toBe(0);
      const flat = r.stdout.replace(/\n/g, "");
      expect(flat, command).toContain("[REDACTED]");
      for (const s of ALL) {
        // The part of each encoding that only the secret's own bytes determine.
        const a = file.indexOf(s);
        const b = a + s.length;
        const form = command.startsWith("rev") ? [...s].reverse().join("") : command.startsWith("base64") ? b64.slice(Math.ceil(a / 3) * 4, Math.floor(b / 3) * 4) : hex.slice(2 * a, 2 * b);
        expect(flat, `${command}: ${s}`).not.toContain(form);
      }
    }
  });

  it("masks file contents downloaded with sftp and scp, same length, and names in sftp listings; refuses an rsync download", async () => {
    const original = readFileSync(path.join(sshd.home, "secrets.txt"), "utf8");
    const expected = ALL.map((s) => `${"*".repeat(s.length)}\n`).join("");
    const batch = path.join(local, "batch.txt");
    writeFileSync(batch, `get ${sshd.home}/secrets.txt ${local}/sftp.txt\nget ${sshd.home}/long.txt ${local}/long-sftp.txt\nls -l ${sshd.home}/keys\n`);
    sessionsOpened++;
    let r = await run("sftp", ["-P", String(conn.port), ...SSH_OPTS, "-b", batch, "pipeline@127.0.0.1"]);
    expect(r.status, r.stderr).toBe(0);
    expectNoSecret(r, "sftp ls");
    expect(r.stdout).toContain(`${"*".repeat(SECRETS.aws.length)}.key`);
    expect(readFileSync(path.join(local, "sftp.txt"), "utf8")).toBe(expected);
    expect(readFileSync(path.join(local, "long-sftp.txt"), "utf8")).toBe(`${"x".repeat(5000)} ${"*".repeat(SECRETS.github.length)} ${"y".repeat(5000)}\n`);
    expect(expected.length).toBe(original.length);

    for (const legacy of [false, true]) {
      sessionsOpened++;
      const dest = path.join(local, `scp-${legacy}.txt`);
      r = await run("scp", ["-P", String(conn.port), ...SSH_OPTS, ...(legacy ? ["-O"] : []), `pipeline@127.0.0.1:${sshd.home}/secrets.txt`, dest]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(dest, "utf8"), legacy ? "scp -O (exec scp -f)" : "scp (SFTP)").toBe(expected);
    }

    sessionsOpened++;
    r = await run("rsync", ["-e", `ssh -p ${conn.port} ${SSH_OPTS.join(" ")}`, `pipeline@127.0.0.1:${sshd.home}/secrets.txt`, path.join(local, "rsync.txt")]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/rsync download cannot be masked exactly/);
  });

  it("keeps every secret and its reversed, base64 and hex forms out of the trail", async () => {
    const token = await stack.mintToken({ sub: "auditor-1", claims: { groups: ["auditors"] } });
    const cli = async (args: string[]) => {
      let out = "";
      let err = "";
      const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), env: { GATEHOUSE_TOKEN: token, GATEHOUSE_URL: stack.gatewayUrl } };
      const code = await main(args, io as never);
      return { code, out, err };
    };
    // The client logs each connection with its session id once its tunnel has closed.
    const ids = () => [...new Set(conn.logs.map((l) => /session ([0-9a-f-]{36}): /.exec(l)?.[1]).filter((x): x is string => !!x))];
    for (let i = 0; i < 300 && ids().length < sessionsOpened; i++) await new Promise((res) => setTimeout(res, 100));
    expect(ids().length).toBeGreaterThanOrEqual(sessionsOpened);
    let trail = "";
    for (const id of ids()) {
      let exported = await cli(["sessions", "export", id]);
      for (let i = 0; i < 50 && exported.code !== 0; i++) {
        await new Promise((res) => setTimeout(res, 100));
        exported = await cli(["sessions", "export", id]);
      }
      expect(exported.code, exported.err).toBe(0);
      trail += exported.out;
    }
    // The trail holds the sessions' commands, output and typed input…
    expect(trail).toContain("head -c 9 github.txt");
    expect(trail).toContain("term.input");
    expect(trail).toContain("[REDACTED]");
    // …and no secret in any trivial form (JSON escaping aside: none of these has a character JSON escapes).
    for (const s of ALL) for (const f of forms(s)) expect(trail, f).not.toContain(f);
  });
});
