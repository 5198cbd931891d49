/**
 * Issue 5 end to end: sessions made with real psql through the gateway are recorded by the
 * gateway, listed/shown/replayed/exported by auditors only, verified online and offline, and a
 * tampered export is caught at the exact event.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - issuer: http://127.0.0.1:8788
      claims: { groups: auditors }
rules:
  - name: rec-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
  - name: rec-no-ddl
    effect: deny
    subjects: any
    resources: any
    actions: [sql.ddl]
`;

const cli = gatehouse;

let stack: TestStack;
let tmp: string;
let auditorEnv: Record<string, string>;
let sessionId: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-rec-"));
  auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
  const conn = await stack.connect("demo-pg", { sub: "pipeline-bot", claims: { repository: "acme/api", ref: "refs/heads/main" } });
  const ok = await psql(conn.url, ["-A", "-t", "-c", "select name from customers order by id limit 3"]);
  expect(ok.code).toBe(0);
  const denied = await psql(conn.url, ["-c", "drop table orders"]);
  expect(denied.code).not.toBe(0);
  await conn.stop();
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("recorded sessions", () => {
  it("lists the sessions of an identity, for auditors only", async () => {
    const list = await cli(["sessions", "list", "--identity", "pipeline-bot", "--json"], auditorEnv);
    expect(list.stderr).toBe("");
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as { sessions: Array<{ id: string; subject: string; resource: string }> } | Array<{ id: string }>;
    const sessions = (Array.isArray(parsed) ? parsed : parsed.sessions) as Array<{ id: string; subject?: string; resource?: string }>;
    expect(sessions.length).toBe(2);
    sessionId = sessions[sessions.length - 1]!.id;

    const outsider = await cli(["sessions", "list"], { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "eve" }) });
    expect(outsider.code).not.toBe(0);
    expect(outsider.stderr).toMatch(/403|auditor/);
  });

  it("shows statements, decisions and rules, and replays what the client saw", async () => {
    const all = await cli(["sessions", "list", "--identity", "pipeline-bot", "--json"], auditorEnv);
    const parsed = JSON.parse(all.stdout);
    const ids = ((Array.isArray(parsed) ? parsed : parsed.sessions) as Array<{ id: string }>).map((s) => s.id);
    const shows = await Promise.all(ids.map((id) => cli(["sessions", "show", id], auditorEnv)));
    const text = shows.map((s) => s.stdout).join("\n");
    expect(text).toContain("select name from customers order by id limit 3");
    expect(text).toContain("drop table orders");
    expect(text).toContain("rec-no-ddl");
    expect(text).toContain("rec-read");
    const replays = await Promise.all(ids.map((id) => cli(["sessions", "replay", id], auditorEnv)));
    const replayText = replays.map((r) => r.stdout).join("\n");
    const direct = await import("pg").then(async ({ default: pg }) => {
      const c = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
      await c.connect();
      const r = await c.query("select name from customers order by id limit 3");
      await c.end();
      return r.rows.map((row: { name: string }) => row.name);
    });
    for (const name of direct) expect(replayText).toContain(name);
  });

  it("verifies online and offline, and pinpoints a tampered event", async () => {
    const online = await cli(["sessions", "verify", sessionId], auditorEnv);
    expect(online.code).toBe(0);

    const exportFile = path.join(tmp, "export.jsonl");
    const exported = await cli(["sessions", "export", sessionId, "--output", exportFile], auditorEnv);
    expect(exported.code).toBe(0);
    const keys = await (await fetch(`${stack.gatewayUrl}/.well-known/gatehouse-audit-keys`)).json();
    const keysFile = path.join(tmp, "keys.json");
    await writeFile(keysFile, JSON.stringify(keys));
    const offline = await cli(["sessions", "verify", "--file", exportFile, "--keys", keysFile], {});
    expect(offline.code).toBe(0);

    // An attacker rewrites what the session did: change one recorded field.
    const lines = (await readFile(exportFile, "utf8")).trim().split("\n");
    const target = lines.findIndex((l) => l.includes('"type":"query"'));
    expect(target).toBeGreaterThan(0);
    const event = JSON.parse(lines[target]!);
    event.data.text = "select 1";
    const tampered = [...lines];
    tampered[target] = JSON.stringify(event);
    const tamperedFile = path.join(tmp, "tampered.jsonl");
    await writeFile(tamperedFile, tampered.join("\n") + "\n");
    const caught = await cli(["sessions", "verify", "--file", tamperedFile, "--keys", keysFile], {});
    expect(caught.code).toBe(1);
    expect(caught.stdout + caught.stderr).toMatch(new RegExp(`altered|seq ${event.seq}`));

    // Removing an event is caught too.
    const removedFile = path.join(tmp, "removed.jsonl");
    await writeFile(removedFile, lines.filter((_, i) => i !== target).join("\n") + "\n");
    const removed = await cli(["sessions", "verify", "--file", removedFile, "--keys", keysFile], {});
    expect(removed.code).toBe(1);
  });

  it("reports access for review: who reached what, and what was denied", async () => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const report = await cli(["review", "report", "--from", from, "--to", to, "--format", "json"], auditorEnv);
    expect(report.code).toBe(0);
    const text = report.stdout;
    expect(text).toContain("pipeline-bot");
    expect(text).toContain("acme/api");
    expect(text).toContain("demo-pg");
    const parsed = JSON.parse(text);
    expect(JSON.stringify(parsed)).toMatch(/denied/);
  });
});
