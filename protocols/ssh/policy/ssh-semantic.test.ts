import { describe, expect, it } from "vitest";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import { parseCommandLine } from "../codec/shell/parse.ts";
import type { SshRequest } from "./ssh.ts";

const POLICY = `
version: 1
rules:
  - name: ops
    effect: allow
    subjects: any
    resources: any
    actions:
      - connect
      - ssh.exec.unknown
      - { ssh: { command: ls, flags: [-l, -a] } }
      - { ssh: { command: cp, flags: [recursive, target-directory], args: ["/srv/app/**"] } }
      - { ssh: { command: rm, args: ["/tmp/*"] } }
      - { ssh: { command: echo } }
      - { ssh: { exec: ["sh /srv/app/deploy.sh"] } }
      - { ssh: { sftp: [write, rename, symlink, mkdir] } }
  - name: guard
    effect: deny
    subjects: any
    resources: any
    actions:
      - { ssh: { command: rm, flags: [recursive, force], args: ["/srv/**"] } }
      - { ssh: { writes: [protected, "/srv/app/config/**"] } }
  - name: hold-restarts
    effect: approve
    subjects: any
    resources: { name: staging }
    approvers: any
    actions: [{ ssh: { command: systemctl, args: [restart] } }]
`;

describe("SSH rules by meaning", async () => {
  const loaded = await loadPolicy(POLICY, "p.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const policy = loaded.policy;
  const on = (resource: string) => ({ identity: { issuer: "i", subject: "s", claims: {} }, resource: { name: resource, type: "ssh", labels: {} } });
  const exec = (line: string, resource = "web") => policy.decideSsh({ ...on(resource), request: { kind: "exec", line: parseCommandLine(line) } });
  const req = (request: SshRequest) => policy.decideSsh({ ...on("web"), request });

  it("allow covers a command that sets only listed flags and whose operands and option values match", () => {
    for (const line of ["ls", "ls -la /x", "ls -al", "ls -l -a", "cp -r -t /srv/app/x /srv/app/a", "cp --recursive --target-directory=/srv/app/y /srv/app/z", "rm /tmp/a", "echo hello"]) expect(exec(line).effect, line).toBe("allow");
    for (const line of ["ls -R", "ls --color=always", "ls $OPT", "cp -r -t /etc a", "cp -a -t /srv/app/x /srv/app/y", "rm -f /tmp/a", "rm /tmp/a/b", "rm /tmp/$X"]) expect(exec(line).effect, line).toBe("deny");
  });

  it("deny touches a command with all listed flags in any spelling and an operand meeting each args pattern", () => {
    for (const line of ["rm -rf /srv/x", "rm --forc --recu /srv/x", "rm /srv/x -Rf", "rm -rf $D", "rm -rf /sr*", "sudo -u x rm -fr /srv/y", "rm -rf /srv", "rm -rf /", "cd / && rm -rf srv", "cd /srv; rm -rf ./x", 'cd "$D"; rm -rf x']) {
      expect(exec(line).rule, line).toBe("guard");
    }
    expect(exec("rm -rf /tmp/x").rule).not.toBe("guard"); // not under /srv (and not allowed either: -rf is not listed)
    expect(exec("rm -r /srv/x").rule).not.toBe("guard"); // force missing
  });

  it("unknown and hidden commands are refused wherever a deny rule applies, even with ssh.exec.unknown allowed", () => {
    const d = exec("$CMD /x");
    expect(d.effect).toBe("deny");
    expect(d.rule).toBe("guard");
    expect(exec("sh /srv/app/deploy.sh").rule).toBe("guard"); // named by an allow pattern, still hidden code
    expect(exec("./deploy -x").rule).toBe("guard");
  });

  it("approve rules hold unknown commands too (they could have matched)", () => {
    const d = exec("echo $(${X})", "staging");
    expect(d.effect).toBe("deny"); // the deny rule is stricter
    expect(exec("systemctl restart app", "staging").effect).toBe("approve");
  });

  it("writes rules refuse protected paths and listed paths by exec and by SFTP, never allow anything", () => {
    expect(exec("echo x > /srv/app/config/app.yaml").rule).toBe("guard");
    expect(exec("echo x >> ~/.bashrc").rule).toBe("guard");
    expect(exec("echo x > /tmp/ok").rule).not.toBe("guard"); // (a redirection needs its own allow)
    expect(req({ kind: "sftp", op: "write", paths: [".ssh/authorized_keys"] }).rule).toBe("guard");
    expect(req({ kind: "sftp", op: "symlink", paths: ["/home/u/.bashrc", "/tmp/l"] }).rule).toBe("guard");
    expect(req({ kind: "sftp", op: "rename", paths: ["/tmp/x", "/etc/cron.d/x"] }).rule).toBe("guard");
    expect(req({ kind: "sftp", op: "extended", paths: [] }).rule).toBe("guard");
    expect(req({ kind: "sftp", op: "write", paths: ["/tmp/ok"] }).effect).toBe("allow");
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/app/.git/hooks/post-merge"] }).rule).toBe("guard");
  });

  it("reports policy mistakes with the offending entry", async () => {
    const bad = async (action: string) => {
      const r = await loadPolicy(`version: 1\nrules:\n  - { name: r, effect: deny, subjects: any, resources: any, actions: [${action}] }\n`, "b.yaml");
      expect(r.ok, action).toBe(false);
      return r.ok ? "" : JSON.stringify(r.errors);
    };
    expect(await bad("{ ssh: { command: rm, flags: [recursiv] } }")).toMatch(/unknown flag 'recursiv' for rm/);
    expect(await bad("{ ssh: { command: frob, flags: [verbose] } }")).toMatch(/no option table for 'frob'/);
    expect(await bad("{ ssh: { flags: [recursive] } }")).toMatch(/belong to a 'command'/);
    expect(await bad("{ ssh: { command: rm, exec: [x] } }")).toMatch(/'command' goes with 'flags' and 'args' only/);
    expect(await bad("{ ssh: { writes: [etc/passwd] } }")).toMatch(/must be 'protected' or a path pattern/);
    expect(await bad("{ ssh: { command: 'rm -rf' } }")).toMatch(/one program name/);
  });
});
