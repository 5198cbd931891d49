/**
 * The pipeline integrations, run as a CI runner would run them, against the real stack with the
 * shipped example policies deciding (their `pg-prod` is the stack's demo-pg):
 *  - the GitHub Action (actions/connect): its main step under a simulated runner (INPUT_*,
 *    GITHUB_ENV/OUTPUT/STATE files, GitHub's OIDC token-request endpoint), psql in a later step
 *    with only the exported variables, then its post step;
 *  - the GitLab CI/CD component (templates/gatehouse-connect.yml): its inputs interpolated as GitLab
 *    does, before_script + the job's script in one shell, after_script in another, with the job's
 *    id_token variable.
 * Ground truth comes from PostgreSQL itself (superuser connection).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { parse as parseYaml } from "yaml";
import { cleanPgEnv, startTestStack, type TestStack } from "../harness/stack.ts";
import { createCiIssuer, githubClaims, gitlabClaims, type CiIssuer } from "./ci-runners.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "bin/gatehouse.mjs");

async function superuserCount(stack: TestStack, sql: string): Promise<number> {
  const su = stack.pg.superuser!;
  const db = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await db.connect();
  try {
    return (await db.query(sql)).rows[0].n as number;
  } finally {
    await db.end();
  }
}

async function stackFor(ci: CiIssuer, example: string, token: string): Promise<TestStack> {
  const policyYaml = readFileSync(path.join(ROOT, "examples/policies", example), "utf8").replaceAll("pg-prod", "demo-pg");
  // Only the CI issuers are trusted here, so no people's sign-in either (it names the development issuer).
  const stack = await startTestStack({ policyYaml, workerVars: { GATEHOUSE_ISSUERS: ci.issuersConfig(), GATEHOUSE_SIGNIN: "" }, waitForConnector: false });
  // Wait for the connector with a token this stack trusts (the development issuer is not trusted here).
  for (let i = 0; ; i++) {
    const r = await fetch(`${stack.gatewayUrl}/v1/resources/demo-pg`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    if (r?.ok && ((await r.json()) as { online?: boolean }).online) break;
    if (i > 300) throw new Error("demo-pg never came online");
    await new Promise((res) => setTimeout(res, 100));
  }
  return stack;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

/** The runner's files (`name<<delimiter` entries) as a map. */
function runnerFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]!);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]!);
    out[m[1]!] = value.join("\n");
  }
  return out;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/** A clean runner environment: nothing of the test's own GATEHOUSE_/PG variables leaks in. */
function runnerEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(cleanPgEnv()).filter(([k]) => !k.startsWith("GATEHOUSE_") && !k.startsWith("ACTIONS_") && !k.startsWith("GITHUB_") && !k.startsWith("GITLAB") && !k.startsWith("CI")));
  return { ...base, ...extra };
}

describe("GitHub Action actions/connect (simulated runner, example github-actions.yaml deciding)", () => {
  const ci = { issuer: undefined as unknown as CiIssuer };
  let stack: TestStack;
  const work = mkdtempSync(path.join(tmpdir(), "gh-action-"));

  beforeAll(async () => {
    ci.issuer = await createCiIssuer();
    stack = await stackFor(ci.issuer, "github-actions.yaml", await ci.issuer.githubToken(githubClaims()));
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  async function job(name: string, claims: Record<string, unknown>, inputs: Record<string, string>) {
    const dir = mkdtempSync(path.join(work, `${name}-`));
    const endpoint = await ci.issuer.serveGithubTokenEndpoint(claims);
    const files = { GITHUB_ENV: path.join(dir, "env"), GITHUB_OUTPUT: path.join(dir, "output"), GITHUB_STATE: path.join(dir, "state") };
    for (const f of Object.values(files)) writeFileSync(f, "");
    const env = runnerEnv({
      ...files,
      GITHUB_ACTIONS: "true",
      CI: "true",
      RUNNER_TEMP: dir,
      ACTIONS_ID_TOKEN_REQUEST_URL: endpoint.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: endpoint.requestToken,
      ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    });
    const main = await run(process.execPath, [path.join(ROOT, "actions/connect/main.mjs")], env);
    return {
      main,
      endpoint,
      exported: () => runnerFile(files.GITHUB_ENV),
      outputs: () => runnerFile(files.GITHUB_OUTPUT),
      // The runner hands saved state to the post step as STATE_<name>.
      post: () => run(process.execPath, [path.join(ROOT, "actions/connect/post.mjs")], { ...env, ...Object.fromEntries(Object.entries(runnerFile(files.GITHUB_STATE)).map(([k, v]) => [`STATE_${k}`, v])) }),
      // A later step: the runner adds the exported variables to its environment.
      step: (cmd: string, args: string[]) => run(cmd, args, { ...runnerEnv({}), ...runnerFile(files.GITHUB_ENV) }),
    };
  }

  it("the deploy job of acme/api@main (environment production) migrates pg-prod; the post step closes the tunnel", async () => {
    const j = await job("deploy", githubClaims(), { resource: "demo-pg", gateway: stack.gatewayUrl, "cli-command": CLI });
    try {
      expect(j.main.code, j.main.out).toBe(0);
      expect(j.endpoint.requests()).toBeGreaterThanOrEqual(1);
      const exported = j.exported();
      expect(exported).toMatchObject({ PGHOST: "127.0.0.1", PGDATABASE: "demo-pg", PGSSLMODE: "disable" });
      const port = Number(exported.PGPORT);
      expect(j.outputs()).toMatchObject({ host: "127.0.0.1", port: String(port), type: "postgres" });
      // The password never enters the runner's files: only the 0600 passfile's path does.
      expect(JSON.stringify(exported)).not.toMatch(/postgresql:\/\/[^@]*:[^@]*@/);

      const r = await j.step("psql", ["-X", "-v", "ON_ERROR_STOP=1", "-c", "create table gh_action_probe (id int); insert into gh_action_probe values (1)"]);
      expect(r.code, r.out).toBe(0);
      expect(await superuserCount(stack, "select count(*)::int as n from gh_action_probe")).toBe(1);
      // The example policy's guard rail still holds for this job: no UPDATE without WHERE on production.
      const unbounded = await j.step("psql", ["-X", "-c", "update gh_action_probe set id = 2"]);
      expect(unbounded.out).toMatch(/prod-no-unbounded-writes/);
      expect(await superuserCount(stack, "select count(*)::int as n from gh_action_probe where id = 2")).toBe(0);

      expect(await portOpen(port)).toBe(true);
      const post = await j.post();
      expect(post.code, post.out).toBe(0);
      expect(post.out).toContain("gatehouse: tunnel closed");
      expect(await portOpen(port)).toBe(false);
    } finally {
      await j.endpoint.close();
    }
  });

  it("a look-alike repository (acme/api-evil) gets a tunnel but no session: default deny", async () => {
    const j = await job("evil", githubClaims({ repository: "acme/api-evil" }), { resource: "demo-pg", gateway: stack.gatewayUrl, "cli-command": CLI });
    try {
      expect(j.main.code, j.main.out).toBe(0);
      const r = await j.step("psql", ["-X", "-c", "select 1"]);
      expect(r.code).not.toBe(0);
      expect(r.out).toMatch(/no rule allows|not allowed|denied/i);
    } finally {
      await j.post();
      await j.endpoint.close();
    }
  });

  it("refuses an unpinned or tampered CLI before installing anything", async () => {
    const tgz = path.join(work, "cli.tgz");
    writeFileSync(tgz, "not the package you pinned");
    const unpinned = await job("unpinned", githubClaims(), { resource: "demo-pg", gateway: stack.gatewayUrl });
    expect(unpinned.main.code).toBe(1);
    expect(unpinned.main.out).toContain("::error::cli-tarball (with cli-integrity) or cli-command is required");
    const tampered = await job("tampered", githubClaims(), { resource: "demo-pg", gateway: stack.gatewayUrl, "cli-tarball": tgz, "cli-integrity": `sha512-${"A".repeat(86)}==` });
    expect(tampered.main.code).toBe(1);
    expect(tampered.main.out).toMatch(/::error::cli-tarball integrity mismatch: expected sha512-A+==, got sha512-/);
    await unpinned.endpoint.close();
    await tampered.endpoint.close();
  });
});

describe("GitLab CI/CD component templates/gatehouse-connect.yml (simulated job, example gitlab-ci.yaml deciding)", () => {
  const ci = { issuer: undefined as unknown as CiIssuer };
  let stack: TestStack;
  const work = mkdtempSync(path.join(tmpdir(), "gl-component-"));
  const template = readFileSync(path.join(ROOT, "templates/gatehouse-connect.yml"), "utf8");

  beforeAll(async () => {
    ci.issuer = await createCiIssuer();
    stack = await stackFor(ci.issuer, "gitlab-ci.yaml", await ci.issuer.gitlabToken(gitlabClaims()));
  }, 240_000);
  afterAll(async () => {
    await stack?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** GitLab's interpolation of `$[[ inputs.x ]]` with the spec's defaults, then the hidden job. */
  function component(inputs: Record<string, string>): { before: string; after: string; variables: Record<string, string> } {
    const [specText, body] = template.split(/^---$/m);
    const spec = parseYaml(specText!) as { spec: { inputs: Record<string, { default?: string }> } };
    const values = Object.fromEntries(Object.entries(spec.spec.inputs).map(([k, v]) => [k, inputs[k] ?? v.default]));
    const interpolated = body!.replace(/\$\[\[\s*inputs\.([\w-]+)\s*\]\]/g, (_, k: string) => {
      if (values[k] === undefined) throw new Error(`input ${k} has no value and no default`);
      return values[k]!;
    });
    const job = (parseYaml(interpolated) as Record<string, { before_script: string[]; after_script: string[]; variables: Record<string, string> }>)[".gatehouse-connect"]!;
    return { before: job.before_script.join("\n"), after: job.after_script.join("\n"), variables: job.variables };
  }

  async function gitlabJob(claims: Record<string, unknown>, script: string) {
    const c = component({ resource: "demo-pg", gateway: stack.gatewayUrl, "cli-command": `${process.execPath} ${CLI}` });
    const tmp = mkdtempSync(path.join(work, "job-"));
    const env = runnerEnv({ ...c.variables, GITLAB_CI: "true", CI: "true", CI_JOB_ID: String(process.pid), TMPDIR: tmp, GATEHOUSE_ID_TOKEN: await ci.issuer.gitlabToken(claims) });
    // before_script and script share one shell; after_script runs in its own.
    const main = await run("bash", ["-c", `${c.before}\n${script}`], env);
    const after = await run("bash", ["-c", c.after], env);
    return { main, after };
  }

  it("the protected main branch of acme/api migrates pg-prod; after_script closes the tunnel", async () => {
    const { main, after } = await gitlabJob(gitlabClaims(), `psql -X -v ON_ERROR_STOP=1 -c "create table gl_component_probe (id int)" && echo "port=$GATEHOUSE_PORT"`);
    expect(main.code, main.out).toBe(0);
    expect(main.out).toMatch(/gatehouse: demo-pg ready on 127\.0\.0\.1:\d+/);
    const port = Number(/port=(\d+)/.exec(main.out)![1]);
    expect(await superuserCount(stack, "select count(*)::int as n from pg_tables where tablename = 'gl_component_probe'")).toBe(1);
    expect(after.code, after.out).toBe(0);
    expect(after.out).toContain("gatehouse connect log:");
    expect(await portOpen(port)).toBe(false);
  });

  it("an unprotected ref of the same project is refused by the example policy", async () => {
    const { main } = await gitlabJob(gitlabClaims({ ref: "feature-x", ref_protected: "false" }), `psql -X -c "create table gl_component_refused (id int)"`);
    expect(main.code).not.toBe(0);
    expect(main.out).toMatch(/no rule allows|not allowed|denied/i);
    expect(await superuserCount(stack, "select count(*)::int as n from pg_tables where tablename = 'gl_component_refused'")).toBe(0);
  });

  it("refuses a tarball whose integrity does not match", async () => {
    const tgz = path.join(work, "cli.tgz");
    writeFileSync(tgz, "tampered");
    const c = component({ resource: "demo-pg", gateway: stack.gatewayUrl, "cli-tarball": tgz, "cli-integrity": `sha512-${"B".repeat(86)}==` });
    const r = await run("bash", ["-c", c.before], runnerEnv({ CI_JOB_ID: "7", TMPDIR: work }));
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("cli-tarball integrity mismatch");
  });
});
