/**
 * SQL clients run by SSH exec are command interpreters with a shell escape: `psql -c '\! cmd'`,
 * psql reading `\!` from a script or stdin, `mysql -e 'system cmd'`. Each line is first run by bash
 * on the host as the SSH account against a real PostgreSQL / MariaDB (proving it deletes), then
 * through the gateway under the demo policy; the host's file system says whether it was stopped.
 * Also: `openssl req -keyout` onto a start-up file (a write not read from -out).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { startMariaDb, type RunningMariaDb } from "../harness/mariadb.ts";
import { run, SSH_OPTS, type Run } from "./run.ts";

describe("SQL clients and write options by exec: the demo policy against real sshd, PostgreSQL and MariaDB", () => {
  let sshd: TestSshd;
  let stack: TestStack;
  let conn: TestConnection;
  let pg: RunningPostgres;
  let maria: RunningMariaDb;
  let owner: { uid: number; gid: number };
  const ssh = (line: string, input = ""): Promise<Run> => run("ssh", ["-p", String(conn.port), ...SSH_OPTS, "pipeline@127.0.0.1", line], { input, timeoutMs: 60_000 });
  const direct = (line: string, input = ""): Promise<Run> =>
    run("runuser", ["-u", sshd.user, "--", "env", `HOME=${sshd.home}`, "PATH=/usr/local/bin:/usr/bin:/bin", "bash", "-c", `cd ${sshd.home} || exit 99\n${line}`], { input, timeoutMs: 30_000 });
  const owned = (p: string, content?: string) => {
    if (content === undefined) mkdirSync(p, { recursive: true });
    else writeFileSync(p, content);
    chownSync(p, owner.uid, owner.gid);
  };
  /** A directory with one file, owned by the account; the line to delete it is built from its path. */
  const victim = (name: string): string => {
    const dir = path.join(sshd.home, "sqlv", name);
    owned(path.dirname(dir));
    owned(dir);
    owned(path.join(dir, "keep"), "keep\n");
    return dir;
  };

  beforeAll(async () => {
    [sshd, pg, maria] = await Promise.all([startTestSshd(), startPostgres({ auth: "scram-sha-256" }), startMariaDb()]);
    const { statSync } = await import("node:fs");
    const st = statSync(sshd.home);
    owner = { uid: st.uid, gid: st.gid };
    stack = await startTestStack({ policyYaml: readFileSync("examples/policies/demo.yaml", "utf8"), extraResources: [sshdResource(sshd, "demo-ssh")] });
    conn = await stack.connect("demo-ssh");
  }, 180_000);

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([sshd?.stop(), pg?.stop(), maria?.stop()]);
  });

  /** Each attack as a function of the directory it deletes, with the stdin it sends. */
  const attacks = (): Array<{ label: string; line: (dir: string) => string; input?: (dir: string) => string }> => {
    const my = maria.levels.read;
    const mysql = `mysql -h 127.0.0.1 -P ${maria.port} -u ${my.user} -p${my.password}`;
    return [
      { label: "psql -c '\\! cmd'", line: (d) => `psql '${pg.url}' -c '\\! rm -rf ${d}'` },
      { label: "psql -f script with \\!", line: (d) => `printf '\\\\! rm -rf ${d}\\n' > ${d}.sql && psql '${pg.url}' -f ${d}.sql` },
      { label: "PSQLRC naming a start-up file with \\!", line: (d) => `printf '\\\\! rm -rf ${d}\\n' > ${d}.rc && PSQLRC=${d}.rc psql '${pg.url}' -c 'select 1'` },
      { label: "psql reading \\! from stdin", line: () => `psql '${pg.url}'`, input: (d) => `\\! rm -rf ${d}\n` },
      { label: "mysql -e 'system cmd'", line: (d) => `${mysql} -e 'system rm -rf ${d}'` },
      { label: "mysql -e 'select 1;\\nsystem cmd'", line: (d) => `${mysql} -e $'select 1;\\nsystem rm -rf ${d}'` },
      { label: "mysql reading \\! from stdin", line: () => mysql, input: (d) => `\\! rm -rf ${d}\n` },
    ];
  };

  it("each SQL-client line really deletes its directory when bash runs it on the host", async () => {
    const survived: string[] = [];
    for (const [i, a] of attacks().entries()) {
      const dir = victim(`direct-${i}`);
      const r = await direct(a.line(dir), a.input?.(dir));
      if (existsSync(path.join(dir, "keep"))) survived.push(`${a.label} → ${r.status} ${r.stderr.trim()}`);
    }
    expect(survived).toEqual([]);
  });

  it("the gateway refuses each of them (126) and the directory stays", async () => {
    const failed: string[] = [];
    for (const [i, a] of attacks().entries()) {
      const dir = victim(`gw-${i}`);
      const r = await ssh(a.line(dir), a.input?.(dir));
      if (existsSync(path.join(dir, "keep")) === false || r.status !== 126 || !r.stderr.includes("gatehouse: command refused")) failed.push(`${a.label} → ${r.status} ${r.stderr.trim()}`);
    }
    expect(failed).toEqual([]);
  });

  it("still runs plain statements on the command line (psql -c, mysql -e)", async () => {
    const my = maria.levels.read;
    let r = await ssh(`psql '${pg.url}' -X -A -t -c 'select 6*7'`);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("42");
    r = await ssh(`mysql -h 127.0.0.1 -P ${maria.port} -u ${my.user} -p${my.password} -N -B -e 'select 6*7'`);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe("42");
  });

  it("openssl -keyout onto a start-up file: writes it on the host, refused by the gateway", async () => {
    const line = (f: string) => `openssl req -x509 -newkey ed25519 -nodes -subj /CN=x -days 1 -keyout ${f} -out /dev/null`;
    const probe = path.join(sshd.home, "sqlv", "keyout-probe");
    owned(probe);
    owned(path.join(probe, ".bashrc"), "# original\n");
    await direct(line(path.join(probe, ".bashrc")));
    expect(readFileSync(path.join(probe, ".bashrc"), "utf8")).toContain("PRIVATE KEY");
    owned(path.join(sshd.home, ".bashrc"), "# original\n");
    const r = await ssh(line("~/.bashrc"));
    expect(r.status).toBe(126);
    expect(readFileSync(path.join(sshd.home, ".bashrc"), "utf8")).toBe("# original\n");
  });
});
