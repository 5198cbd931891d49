/**
 * The demo policy's SSH rules against the attack corpus (corpus.ts), end to end: real OpenSSH
 * sshd/ssh/scp/sftp, the real worker, connector and client. Every spelling is first run by bash
 * directly on the host as the SSH account, to prove it really deletes (or really persists); then
 * through the gateway — and the host's file system, not the gateway's answer, says whether it
 * was stopped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { run, SSH_OPTS, type Run } from "./run.ts";
import { destructiveSpellings, persistenceSpellings, type Target } from "./corpus.ts";

const MARKER = "GATEHOUSE_PERSISTENCE_MARKER";

/** Run `jobs` with at most `width` at a time (the gateway serves one session per ssh process). */
async function pool<T, R>(items: T[], width: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]!, i);
    }
  }));
  return results;
}

/** Every file below `root` whose content contains the marker (symbolic links not followed). */
function filesWithMarker(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && readFileSync(p, "utf8").includes(MARKER)) found.push(p);
    }
  };
  walk(root);
  return found;
}

describe("SSH commands by meaning: the demo policy against the attack corpus (real sshd, ssh, scp, sftp)", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection;
  let loginDir: string; // where an SSH command starts: the account's passwd home
  let local: string;
  let owner: { uid: number; gid: number };
  const ssh = (line: string): Promise<Run> => run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", line], { timeoutMs: 60_000 });
  /** bash on the host as the SSH account, as sshd would start it, bypassing the gateway. */
  const direct = (line: string, home: string, cwd: string): Promise<Run> =>
    run("runuser", ["-u", sshd.user, "--", "env", `HOME=${home}`, "PATH=/usr/local/bin:/usr/bin:/bin", "bash", "-c", `cd ${cwd} || exit 99\n${line}`], { timeoutMs: 30_000 });
  const ownedDir = (dir: string) => {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, owner.uid, owner.gid);
  };
  /** A directory with one file in it, owned by the account. */
  const victim = (dir: string): Target => {
    ownedDir(path.dirname(dir)); // the account must be able to remove entries of the parent
    ownedDir(dir);
    writeFileSync(path.join(dir, "keep"), "keep\n");
    chownSync(path.join(dir, "keep"), owner.uid, owner.gid);
    return { dir, rel: path.relative(loginDir, dir), homeRel: path.relative(sshd.home, dir), name: path.basename(dir), parent: path.dirname(dir) };
  };

  beforeAll(async () => {
    sshd = await startTestSshd();
    const st = statSync(sshd.home);
    owner = { uid: st.uid, gid: st.gid };
    loginDir = (await run("getent", ["passwd", sshd.user])).stdout.trim().split(":")[5]!;
    // The account's login directory outlives a run: what an earlier run's bypass wrote there (a
    // marked .bashrc) would fail this run's checks. This run judges only what it writes itself.
    for (const f of filesWithMarker(loginDir)) rmSync(f, { force: true });
    local = mkdtempSync(path.join(tmpdir(), "gatehouse-cmd-local-"));
    // The demo policy, plus SFTP writes anywhere: so that what stops an upload onto ~/.bashrc is
    // the protected-path rule, not the default deny.
    const demo = readFileSync("examples/policies/demo.yaml", "utf8");
    const sftpWrites = `  - name: e2e-sftp-writes\n    effect: allow\n    subjects: any\n    resources: [demo-ssh]\n    actions: [{ ssh: { sftp: [write, mkdir, rename, setstat, symlink] } }]\n\n# Masking`;
    const policyYaml = demo.replace("\n# Masking", `\n${sftpWrites}`);
    expect(policyYaml).toContain("e2e-sftp-writes");
    stack = await startTestStack({ policyYaml, extraResources: [sshdResource(sshd, "demo-ssh")] });
    conn = await stack.connect("demo-ssh");
  });

  afterAll(async () => {
    await stack?.stop();
    await sshd?.stop();
    if (local) rmSync(local, { recursive: true, force: true });
  });

  it("runs ordinary commands and allowed writes (the setup can delete and write)", async () => {
    const d = victim(path.join(sshd.home, "control"));
    const r = await ssh(`rm ${d.dir}/keep && rmdir ${d.dir} && echo done > ${sshd.home}/notes.txt`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(existsSync(d.dir)).toBe(false);
    expect(readFileSync(path.join(sshd.home, "notes.txt"), "utf8")).toBe("done\n");
  });

  it("every destructive spelling really deletes its directory's content when bash runs it on the host", async () => {
    const targets = Array.from({ length: destructiveSpellings(victim(path.join(sshd.home, "probe"))).length }, (_, i) => victim(path.join(sshd.home, "direct", String(i).padStart(3, "0"))));
    const lines = targets.map((t, i) => destructiveSpellings(t)[i]!);
    expect(lines.length).toBeGreaterThanOrEqual(100);
    const results = await pool(lines, 4, (line) => direct(line, sshd.home, loginDir));
    const survived = lines.flatMap((line, i) => (existsSync(path.join(targets[i]!.dir, "keep")) ? [`${line} → ${results[i]!.status} ${results[i]!.stderr.trim()}`] : []));
    expect(survived).toEqual([]);
  });

  it("the gateway stops every destructive spelling: each directory is still on the host", async () => {
    const count = destructiveSpellings(victim(path.join(sshd.home, "probe2"))).length;
    const targets = Array.from({ length: count }, (_, i) => victim(path.join(sshd.home, "gw", String(i).padStart(3, "0"))));
    const lines = targets.map((t, i) => destructiveSpellings(t)[i]!);
    const results = await pool(lines, 4, (line) => ssh(line));
    const deleted = lines.filter((_, i) => !existsSync(path.join(targets[i]!.dir, "keep")));
    expect(deleted).toEqual([]);
    // And each was refused by the gateway with its own error (126), not by an accident on the host.
    const notRefused = lines.filter((_, i) => results[i]!.status !== 126 || !results[i]!.stderr.includes("gatehouse: command refused"));
    expect(notRefused).toEqual([]);
  }, 180_000); // ~150 sessions through the gateway, 4 at a time, on a shared 2-core machine

  it("every persistence spelling really writes a start-up file when bash runs it on the host", async () => {
    const count = persistenceSpellings("/nowhere", MARKER).length;
    const failed: string[] = [];
    await pool(Array.from({ length: count }, (_, i) => i), 4, async (i) => {
      // Outside the account's real home: the gateway test below scans that one for the payload.
      const home = path.join(sshd.dir, "persist-direct", String(i));
      ownedDir(home);
      ownedDir(path.join(home, ".ssh"));
      ownedDir(path.join(home, ".config"));
      writeFileSync(path.join(home, ".bashrc"), "# original\n");
      chownSync(path.join(home, ".bashrc"), owner.uid, owner.gid);
      const line = persistenceSpellings(home, MARKER)[i]!;
      const r = await direct(line, home, home);
      const hits = filesWithMarker(home).filter((f) => path.relative(home, f).split("/").some((seg) => seg.startsWith(".")));
      if (hits.length === 0) failed.push(`${line} → ${r.status} ${r.stderr.trim()}`);
    });
    expect(failed).toEqual([]);
  });

  it("the gateway stops every persistence attempt by exec: no start-up file on the host gets the payload", async () => {
    ownedDir(path.join(sshd.home, ".ssh"));
    ownedDir(path.join(sshd.home, ".config"));
    writeFileSync(path.join(sshd.home, ".bashrc"), "# original\n");
    chownSync(path.join(sshd.home, ".bashrc"), owner.uid, owner.gid);
    const lines = persistenceSpellings(sshd.home, MARKER);
    const results = await pool(lines, 4, (line) => ssh(line));
    expect(filesWithMarker(sshd.home)).toEqual([]);
    expect(filesWithMarker(loginDir)).toEqual([]);
    expect(readFileSync(path.join(sshd.home, ".bashrc"), "utf8")).toBe("# original\n");
    expect(lines.flatMap((line, i) => (results[i]!.status !== 126 ? [`${line} → ${results[i]!.status} ${results[i]!.stderr.trim()}`] : []))).toEqual([]);
  });

  it("a shell without a terminal (commands piped to `ssh -T`) is refused where the deny rules apply; with a terminal it is allowed as a whole", async () => {
    const viaDirect = victim(path.join(sshd.home, "stdin-direct"));
    const viaGateway = victim(path.join(sshd.home, "stdin-gw"));
    // Directly on the host, a shell reading these lines deletes the directory…
    const d = await run("runuser", ["-u", sshd.user, "--", "env", `HOME=${sshd.home}`, "bash"], { input: `rm -rf ${viaDirect.dir}\necho ran > ${viaDirect.parent}/stdin-ran\n` });
    expect(d.status).toBe(0);
    expect(existsSync(viaDirect.dir)).toBe(false);
    // …through the gateway the session is refused before the host sees a byte of it.
    const r = await run("ssh", ["-T", "-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1"], { input: `rm -rf ${viaGateway.dir}\necho ran > ${viaGateway.parent}/stdin-gw-ran\n`, timeoutMs: 60_000 });
    expect(r.stderr).toContain("gatehouse");
    expect(r.status).not.toBe(0);
    expect(existsSync(path.join(viaGateway.dir, "keep"))).toBe(true);
    expect(existsSync(path.join(viaGateway.parent, "stdin-gw-ran"))).toBe(false);
    // Control: the demo still allows interactive shells (with a terminal), decided as a whole.
    const t = await run("ssh", ["-tt", "-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1"], { input: `echo tty-$((6*7))\nexit\n`, timeoutMs: 60_000 });
    expect(t.stdout).toContain("tty-42");
  });

  it("refuses uploads onto protected paths by sftp and scp (SFTP and legacy -O), and allows others", async () => {
    const payload = path.join(local, "payload");
    writeFileSync(payload, `${MARKER}\n`);
    const scp = (args: string[]) => run("scp", ["-P", String(conn.port), ...SSH_OPTS, ...args]);
    // Control: an ordinary upload lands.
    let r = await scp([payload, `pipeline@127.0.0.1:${sshd.home}/upload.txt`]);
    expect(r.status).toBe(0);
    expect(readFileSync(path.join(sshd.home, "upload.txt"), "utf8")).toBe(`${MARKER}\n`);
    rmSync(path.join(sshd.home, "upload.txt"));

    for (const dest of [`${sshd.home}/.bashrc`, `${sshd.home}//./.profile`, `${sshd.home}/.ssh/authorized_keys`, `${sshd.home}/.ssh/rc`, ".bashrc", `${sshd.home}/x/../.zshrc`]) {
      r = await scp([payload, `pipeline@127.0.0.1:${dest}`]);
      expect(r.status, dest).not.toBe(0);
      r = await scp(["-O", payload, `pipeline@127.0.0.1:${dest}`]);
      expect(r.status, `-O ${dest}`).not.toBe(0);
    }
    const batch = path.join(local, "batch");
    writeFileSync(batch, [`-put ${payload} ${sshd.home}/.bash_login`, `-put ${payload} .profile`, `-put ${payload} ${sshd.home}/staged`, `-rename ${sshd.home}/staged ${sshd.home}/.bashrc`, `-symlink ${sshd.home}/.bashrc ${sshd.home}/link`, `-mkdir ${sshd.home}/.config/systemd`, ""].join("\n"));
    r = await run("sftp", ["-P", String(conn.port), ...SSH_OPTS, "-b", batch, "pipeline@127.0.0.1"]);
    expect(r.stderr).toMatch(/Permission denied|gatehouse: refused/);
    // The staged upload (an ordinary file) landed; nothing protected holds the payload.
    expect(existsSync(path.join(sshd.home, "staged"))).toBe(true);
    expect(existsSync(path.join(sshd.home, "link"))).toBe(false);
    expect(existsSync(path.join(sshd.home, ".config", "systemd"))).toBe(false);
    expect(filesWithMarker(sshd.home).map((f) => path.relative(sshd.home, f))).toEqual(["staged"]);
    expect(filesWithMarker(loginDir)).toEqual([]);
  });
});
