/**
 * Editors read their commands from standard input: `ed`, `ex` and `vim -e` always (`!cmd` runs a
 * shell, `w FILE` writes any file), and the visual editors whenever there is no terminal — the
 * client's input is then the keyboard (`:!cmd`). An exec without a pty that runs an editor is a
 * command interpreter fed by the client, like `bash` reading stdin, and the gateway cannot see
 * what that input runs: deny rules refuse it (the demo policy's `rm` recursive and `writes:
 * [protected]`). Real sshd, real ssh, the real gateway; the host's file system says what ran.
 * Each attack is first run by bash on the host as the SSH account, to prove it really deletes or
 * writes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { run, SSH_OPTS, type Run } from "./run.ts";

const MARKER = "GATEHOUSE_EDITOR_MARKER";

interface Attack {
  name: string;
  /** The exec command line (what policy sees). */
  line: (t: { dir: string; file: string }) => string;
  /** What the client sends on the channel's input (what the gateway cannot see). */
  input: (t: { dir: string; file: string }) => string;
}

/** Deleting a directory tree: the `rm` recursive deny rule could have matched it. */
const DESTROY: Attack[] = [
  { name: "ed", line: (t) => `ed -- ${t.file}`, input: (t) => `!rm -rf ${t.dir}\nq\n` },
  { name: "/bin/ed", line: (t) => `/bin/ed ${t.file}`, input: (t) => `!rm -r -f ${t.dir}\nQ\n` },
  { name: "ex", line: (t) => `ex ${t.file}`, input: (t) => `!rm -rf ${t.dir}\nq!\n` },
  { name: "vim -e", line: (t) => `vim -e ${t.file}`, input: (t) => `!rm -rf ${t.dir}\nq!\n` },
  { name: "vi -Es", line: (t) => `/usr/bin/vi -Es ${t.file}`, input: (t) => `!rm -rf ${t.dir}\nq!\n` },
  { name: "vim (visual, no terminal)", line: (t) => `vim ${t.file}`, input: (t) => `:!rm -rf ${t.dir}\n:q!\n` },
  { name: "view (visual, no terminal)", line: (t) => `view ${t.file}`, input: (t) => `:!rm -rf ${t.dir}\n:q!\n` },
  { name: "echo … | ed (input on the line)", line: (t) => `printf '%s\\n' '!rm -rf ${t.dir}' q | ed ${t.file}`, input: () => "" },
];

/** Writing a shell start-up file through the editor's own `w` command: the `writes: [protected]` rule could have matched it. */
const PERSIST: Attack[] = [
  { name: "ed w", line: (t) => `ed ${t.file}`, input: () => `a\n${MARKER}\n.\nw .bashrc\nq\n` },
  { name: "ex w", line: (t) => `ex ${t.file}`, input: () => `a\n${MARKER}\n.\nw! .bashrc\nq!\n` },
];

describe("editors fed by the client's input (real sshd, real gateway)", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection;
  let loginDir: string;
  let owner: { uid: number; gid: number };
  let n = 0;
  const ssh = (line: string, input: string, extra: string[] = []): Promise<Run> =>
    run("ssh", ["-p", String(conn.port), ...SSH_OPTS, ...extra, "pipeline@127.0.0.1", line], { input, timeoutMs: 60_000 });
  /** bash on the host as the SSH account, bypassing the gateway (ground truth that the attack works). */
  const direct = (line: string, input: string): Promise<Run> =>
    run("runuser", ["-u", sshd.user, "--", "env", `HOME=${loginDir}`, "PATH=/usr/local/bin:/usr/bin:/bin", "TERM=dumb", "bash", "-c", `cd ${loginDir} || exit 99\n${line}`], { input, timeoutMs: 30_000 });
  const owned = (p: string, dir: boolean) => {
    if (dir) mkdirSync(p, { recursive: true });
    else writeFileSync(p, "notes\n");
    chownSync(p, owner.uid, owner.gid);
  };
  /** A directory tree owned by the account and a file for the editor to open. */
  const target = () => {
    const base = path.join(sshd.home, "editor", String(n++).padStart(3, "0"));
    owned(path.dirname(base), true);
    owned(base, true);
    const dir = path.join(base, "victim");
    owned(dir, true);
    owned(path.join(dir, "keep"), false);
    const file = path.join(base, "notes.txt");
    owned(file, false);
    return { dir, file };
  };
  const bashrc = () => path.join(loginDir, ".bashrc");
  const resetBashrc = () => owned(bashrc(), false);

  beforeAll(async () => {
    sshd = await startTestSshd();
    const st = statSync(sshd.home);
    owner = { uid: st.uid, gid: st.gid };
    loginDir = (await run("getent", ["passwd", sshd.user])).stdout.trim().split(":")[5]!;
    const policyYaml = readFileSync("examples/policies/demo.yaml", "utf8");
    stack = await startTestStack({ policyYaml, extraResources: [sshdResource(sshd, "demo-ssh")] });
    conn = await stack.connect("demo-ssh");
  });

  afterAll(async () => {
    // The login directory outlives this run (the harness's account): leave no start-up file behind.
    if (loginDir) for (const f of [".bashrc", ".viminfo"]) rmSync(path.join(loginDir, f), { force: true });
    await stack?.stop();
    await sshd?.stop();
  });

  it("each attack really deletes or writes when the host runs it directly", async () => {
    for (const a of DESTROY) {
      const t = target();
      await direct(a.line(t), a.input(t));
      expect(existsSync(path.join(t.dir, "keep")), a.name).toBe(false);
    }
    for (const a of PERSIST) {
      resetBashrc();
      const t = target();
      await direct(a.line(t), a.input(t));
      expect(readFileSync(bashrc(), "utf8"), a.name).toContain(MARKER);
    }
  });

  it("the gateway refuses an editor reading commands from the client's input: nothing is deleted", async () => {
    const ran: string[] = [];
    for (const a of DESTROY) {
      const t = target();
      const r = await ssh(a.line(t), a.input(t));
      const refused = r.status === 126 && /gatehouse: command refused: rule 'demo-ssh-no-destruction' .*input/.test(r.stderr);
      if (!existsSync(path.join(t.dir, "keep")) || !refused) ran.push(`${a.name} → ${r.status} ${r.stderr.trim()}`);
    }
    expect(ran).toEqual([]);
  });

  it("the gateway refuses an editor writing a start-up file by its own `w` command", async () => {
    const ran: string[] = [];
    for (const a of PERSIST) {
      resetBashrc();
      const t = target();
      const r = await ssh(a.line(t), a.input(t));
      const refused = r.status === 126 && /gatehouse: command refused: rule 'demo-ssh-no-(destruction|persistence)'/.test(r.stderr);
      if (readFileSync(bashrc(), "utf8").includes(MARKER) || !refused) ran.push(`${a.name} → ${r.status} ${r.stderr.trim()}`);
    }
    expect(ran).toEqual([]);
  });

  it("with a terminal, a visual editor is decided as written (keyboard commands are the policy writer's call, docs/SSH.md)", async () => {
    const t = target();
    const r = await ssh(`vim -n ${t.file}`, ":q!\r", ["-tt", "-o", "SetEnv=TERM=dumb"]);
    expect(r.stderr).not.toContain("gatehouse:");
    expect(r.status).toBe(0);
    const ok = await ssh(`cat ${t.file}`, "");
    expect(ok.status).toBe(0);
    expect(ok.stdout).toBe("notes\n");
  });
});
