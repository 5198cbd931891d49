import { describe, expect, it } from "vitest";
import { loadPolicy } from "../../../parsers/policy/index.ts";
import type { CompiledPolicy } from "../../../parsers/policy/types.ts";
import { parseCommandLine } from "../codec/shell/parse.ts";
import { globsIntersect } from "./ssh.ts";
import type { SshRequest } from "./ssh.ts";

const POLICY = `
version: 1
rules:
  - name: ops
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions:
      - connect
      - { ssh: { exec: ["ls **", "cat /var/log/**", "systemctl status *", "echo **", "> /tmp/**", "rm -f /tmp/*"] } }
      - ssh.shell
      - { ssh: { sftp: [read, list] } }
      - { ssh: { sftp: [write, mkdir], paths: ["/srv/upload/**"] } }
  - name: no-destroy
    effect: deny
    subjects: any
    resources: { type: ssh }
    actions: [{ ssh: { exec: ["rm -rf /*", "shutdown **", "reboot **", "find ** -delete"] } }, { ssh: { sftp: [write], paths: ["/srv/upload/locked/**"] } }]
  - name: restarts
    effect: approve
    subjects: any
    resources: { type: ssh }
    approvers: any
    actions: [{ ssh: { exec: "systemctl restart *" } }]
`;

const identity = { issuer: "https://idp", subject: "ci", claims: {} };
const resource = { name: "web-1", type: "ssh", labels: {} };

async function compile(text: string): Promise<CompiledPolicy> {
  const r = await loadPolicy(text, "p.yaml");
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.policy;
}

describe("SSH policy", async () => {
  const policy = await compile(POLICY);
  const exec = (line: string) => policy.decideSsh({ identity, resource, request: { kind: "exec", line: parseCommandLine(line) } });
  const req = (request: SshRequest) => policy.decideSsh({ identity, resource, request });

  it("allows only commands an allow pattern covers completely", () => {
    expect(exec("ls -la /srv").effect).toBe("allow");
    expect(exec("cat /var/log/syslog").effect).toBe("allow");
    expect(exec("cat /etc/shadow").effect).toBe("deny");
    expect(exec("cat /var/log/../../etc/shadow").effect).toBe("deny");
    expect(exec("systemctl status nginx").effect).toBe("allow");
    expect(exec("systemctl status nginx postgres").effect).toBe("deny");
    expect(exec("ls; cat /etc/shadow").reason).toMatch(/command 2 of 2/);
    expect(exec("echo $HOME").effect).toBe("allow"); // `**` covers dynamic words
    expect(exec("rm -f /tmp/$X").effect).toBe("deny"); // a dynamic word is never covered by a glob
    expect(exec("rm -f /tmp/a").effect).toBe("allow");
  });

  it("denies a command a deny pattern touches, in any spelling", () => {
    for (const line of ["rm -rf /", "rm -r -f /etc", "rm -fr --no-preserve-root /", "sudo rm -rf /home", "rm -rf $X", "rm -rf /e*", "{rm,-rf,/}", "echo $(rm -rf /)", "sh -c 'reboot'", "shutdown -h now", "find / -name x -delete"]) {
      const d = exec(line);
      expect(d.effect, line).toBe("deny");
      expect(d.rule, line).toBe("no-destroy");
      expect(d.reason, line).toContain("rule 'no-destroy' (p.yaml:");
    }
    expect(exec("rm -rf *.log").rule).not.toBe("no-destroy"); // cannot expand to /x
  });

  it("treats redirections as writes that need their own allow", () => {
    expect(exec("echo hi > /tmp/x").effect).toBe("allow");
    expect(exec("echo hi > /etc/passwd").effect).toBe("deny");
  });

  it("refuses unknown commands wherever a deny rule could have matched them, and holds approvals", () => {
    const d = exec("$CMD -rf /");
    expect(d.effect).toBe("deny");
    expect(d.rule).toBe("no-destroy");
    expect(d.reason).toMatch(/unknown: the command name "\$CMD" is only known on the host/);
    const a = exec("systemctl restart nginx");
    expect(a.effect).toBe("approve");
    expect(a.approvals?.[0]?.rule).toBe("restarts");
    expect(exec("").effect).toBe("allow");
  });

  it("decides shells, sftp operations and forwarding", () => {
    expect(req({ kind: "shell" }).effect).toBe("allow");
    expect(req({ kind: "sftp", op: "read", paths: ["/etc/hosts"] }).effect).toBe("allow");
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/upload/a.csv"] }).effect).toBe("allow");
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/upload/locked/a"] }).rule).toBe("no-destroy");
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/other"] }).effect).toBe("deny");
    expect(req({ kind: "sftp", op: "write", paths: ["../srv/upload/x"] }).effect).toBe("deny");
    expect(req({ kind: "sftp", op: "remove", paths: ["/srv/upload/a.csv"] }).effect).toBe("deny");
    expect(req({ kind: "port-forward", target: "local:127.0.0.1:5432" }).effect).toBe("deny");
    expect(req({ kind: "agent-forward" }).effect).toBe("deny");
    expect(req({ kind: "x11" }).effect).toBe("deny");
  });

  it("matches forwarding targets by pattern, and rejects malformed ones at compile time", async () => {
    const p = await compile(`
version: 1
rules:
  - { name: db-tunnel, effect: allow, subjects: any, resources: any, actions: [{ ssh: { forward: ["local:db.internal:5432", "remote:127.0.0.1:*", "streamlocal:/run/app/*.sock"] } }] }
  - { name: no-metadata, effect: deny, subjects: any, resources: any, actions: [{ ssh: { forward: ["local:169.254.169.254:*"] } }] }
`);
    const fwd = (target: string) => p.decideSsh({ identity, resource, request: { kind: "port-forward", target } });
    expect(fwd("local:db.internal:5432")).toMatchObject({ effect: "allow", rule: "db-tunnel" });
    expect(fwd("local:db.internal:22").effect).toBe("deny");
    expect(fwd("remote:127.0.0.1:8080").effect).toBe("allow");
    expect(fwd("remote:*:8080").effect).toBe("deny");
    expect(fwd("streamlocal:/run/app/api.sock").effect).toBe("allow");
    expect(fwd("streamlocal:/run/app/sub/api.sock").effect).toBe("deny");
    expect(fwd("local:169.254.169.254:80")).toMatchObject({ effect: "deny", rule: "no-metadata" });
    await expect(compile(`
version: 1
rules:
  - { name: bad, effect: allow, subjects: any, resources: any, actions: [{ ssh: { forward: ["db:5432"] } }] }
`)).rejects.toThrow(/must start with local:, remote:/);
  });

  it("allows unresolvable commands only when a rule says so explicitly", async () => {
    const p = await compile(`
version: 1
rules:
  - { name: all, effect: allow, subjects: any, resources: any, actions: [ssh.exec] }
  - { name: unknowns, effect: allow, subjects: any, resources: { name: lab }, actions: [ssh.exec.unknown] }
`);
    const line = parseCommandLine("$CMD x");
    expect(p.decideSsh({ identity, resource, request: { kind: "exec", line } }).effect).toBe("deny");
    expect(p.decideSsh({ identity, resource: { ...resource, name: "lab" }, request: { kind: "exec", line } }).effect).toBe("allow");
  });

  it("reports policy mistakes with their position", async () => {
    for (const [action, message] of [
      ["ssh.bogus", /unknown SSH action 'ssh.bogus'/],
      ["ssh.sftp.delete", /unknown SFTP operation 'delete'/],
      ["{ ssh: { exec: [] } }", /empty list/],
      ["{ ssh: { exec: ['rm [x]'] } }", /reserved/],
      ["{ ssh: { sftp: [read], exec: x } }", /stands alone/],
      ["{ ssh: { sftp: [chmod] } }", /unknown operation 'chmod'/],
    ] as const) {
      const r = await loadPolicy(`version: 1\nrules:\n  - name: r\n    effect: allow\n    subjects: any\n    resources: any\n    actions: [${action}]\n`, "p.yaml");
      expect(r.ok, action).toBe(false);
      if (!r.ok) {
        expect(r.errors[0]!.message, action).toMatch(message);
        expect(r.errors[0]!.line, action).toBe(7);
      }
    }
  });

  it("intersects globs correctly", () => {
    const t = (s: string, shell = false) =>
      [...s].map((c) => (c === "*" ? { t: "star" as const } : c === "?" ? { t: "one" as const } : { t: "lit" as const, c })).filter(() => !shell);
    expect(globsIntersect(t("/*"), t("/e*"))).toBe(true);
    expect(globsIntersect(t("/*"), t("*.log"))).toBe(false);
    expect(globsIntersect(t("/tmp/*"), t("/t?p/x"))).toBe(true);
    expect(globsIntersect(t("/a"), t("/b*"))).toBe(false);
  });
});
