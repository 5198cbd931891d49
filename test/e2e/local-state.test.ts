/**
 * Local state is private: after real sessions (recordings sealed into R2, the generated audit
 * signing key in D1, Durable Object storage — all written by wrangler/workerd while running), no
 * file under the stack's home is readable by another OS user, and the home and every directory in
 * it is 0700 and every file 0600 — also as root, where the demo PostgreSQL's data (owned by the
 * `postgres` account) lives outside the home (client/dev/home.ts demoServersDir). And the address recorded for a session is never one the client
 * claims in a header (the local worker is not configured as behind Cloudflare).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync, lstatSync, readFileSync } from "node:fs";
import { createHmac } from "node:crypto";
import pg from "pg";
import path from "node:path";
import WebSocket from "ws";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { createIntruder, type Intruder } from "../harness/intruder.ts";
import { TUNNEL_SUBPROTOCOL, decodeFrame, FrameType } from "../../parsers/tunnel/frames.ts";
import { eventually } from "./helpers.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - claims: { groups: auditors }
rules:
  - { name: pg, effect: allow, subjects: any, resources: [demo-pg], actions: [connect, sql.read] }
masking:
  rules:
    - { name: hashed, resources: [demo-pg], columns: [email], style: hash }
`;

function walk(dir: string, out: Array<{ file: string; mode: number; dir: boolean }> = []) {
  for (const name of readdirSync(dir)) {
    const file = path.join(dir, name);
    const st = lstatSync(file);
    out.push({ file, mode: st.mode & 0o777, dir: st.isDirectory() });
    if (st.isDirectory()) walk(file, out);
  }
  return out;
}

describe("local state", () => {
  let stack: TestStack;
  let intruder: Intruder;

  beforeAll(async () => {
    intruder = await createIntruder();
    stack = await startTestStack({ policyYaml: POLICY });
  });

  afterAll(async () => {
    await stack?.stop();
    intruder?.cleanup();
  });

  const auditorToken = () => stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } });
  async function sessionRow(id: string): Promise<{ client_addr: string; status: string }> {
    const res = await fetch(`${stack.gatewayUrl}/v1/sessions/${id}`, { headers: { authorization: `Bearer ${await auditorToken()}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { session: { client_addr: string; status: string } }).session;
  }

  it("records no client-supplied address header as the client address", async () => {
    const ws = new WebSocket(`${stack.gatewayUrl.replace(/^http/, "ws")}/v1/tunnel/demo-pg`, [TUNNEL_SUBPROTOCOL], {
      headers: {
        authorization: `Bearer ${await stack.mintToken({ sub: "spoofer" })}`,
        "cf-connecting-ip": "203.0.113.66",
        "x-forwarded-for": "198.51.100.77",
        "x-real-ip": "198.51.100.78",
        forwarded: "for=198.51.100.79",
      },
    });
    const sessionId = await new Promise<string>((resolve, reject) => {
      ws.on("message", (data: Buffer) => {
        const frame = decodeFrame(data);
        if (frame.type === FrameType.Control && frame.message.t === "session") resolve(String(frame.message.id));
      });
      ws.on("error", reject);
    });
    ws.close();
    const row = await sessionRow(sessionId);
    for (const spoofed of ["203.0.113.66", "198.51.100.77", "198.51.100.78", "198.51.100.79"]) expect(row.client_addr).not.toContain(spoofed);
    expect(row.client_addr).toBe("");
  });

  it("never puts the worker's masking key on a command line another user can read (/proc/*/cmdline)", async () => {
    const key = readFileSync(path.join(stack.home, "worker", "masking-key"), "utf8").trim();
    expect(key.length).toBeGreaterThan(20);
    // The worker really runs with it (from its private env file): a `hash` rule's output is keyed by it.
    const su = stack.pg.superuser!;
    const direct = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await direct.connect();
    const email = String((await direct.query("select email from customers order by id limit 1")).rows[0].email);
    await direct.end();
    const masked = await stack.psql("select email from customers order by id limit 1", { sub: "key-checker" });
    expect(masked.stdout).toContain(`h:${createHmac("sha256", key).update(email).digest("hex").slice(0, 16)}`);
    const seen = await intruder.run("sh", ["-c", "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done"]);
    expect(seen.stdout).toContain("wrangler");
    expect(seen.stdout.includes(key)).toBe(false);
    // Nor the target's passwords (embedded PostgreSQL, the connector's logins).
    const passwords = [stack.pg.superuser?.password, stack.pg.password, stack.pg.levels?.read.password, stack.pg.levels?.write.password].filter((p): p is string => !!p && p.length >= 8);
    expect(passwords.length).toBeGreaterThan(0);
    for (const p of passwords) expect(seen.stdout.includes(p), "a PostgreSQL password on a command line").toBe(false);
  });

  it("keeps every file of the running stack private, including what workerd wrote during sessions", async () => {
    const r = await stack.psql("select 'recorded'", { sub: "state-checker" });
    expect(r.stdout).toContain("recorded");
    // Sessions end and are sealed into R2 by the worker while it runs.
    await eventually(async () => {
      const res = await fetch(`${stack.gatewayUrl}/v1/sessions?identity=state-checker`, { headers: { authorization: `Bearer ${await auditorToken()}` } });
      const body = (await res.json()) as { sessions: Array<{ status: string }> };
      return body.sessions.length > 0 && body.sessions.every((s) => s.status !== "active");
    }, "the session to end");

    // The whole home, even as root: the demo servers' own accounts keep their data outside it.
    const entries = [{ file: stack.home, mode: lstatSync(stack.home).mode & 0o777, dir: true }, ...walk(stack.home)];
    for (const d of ["dev", "connector", "worker", "wrangler", "demo-pg"]) expect(entries.some((e) => e.file === path.join(stack.home, d))).toBe(true);
    // The trees are really populated: keys, D1/DO SQLite files, R2 blobs.
    expect(entries.filter((e) => !e.dir && e.file.includes(`${path.sep}wrangler${path.sep}`)).length).toBeGreaterThan(3);
    const wrong = entries.filter((e) => e.mode !== (e.dir ? 0o700 : 0o600)).map((e) => `${e.file} ${e.mode.toString(8)}`);
    expect(wrong).toEqual([]);
    expect(lstatSync(stack.home).mode & 0o777).toBe(0o700);

    // Ground truth from the other user's side: it can read nothing, list nothing.
    const found = await intruder.run("find", [stack.home, "-readable", "(", "-type", "f", "-o", "-type", "d", ")"]);
    expect(found.stdout.trim()).toBe("");
    const key = await intruder.run("cat", [path.join(stack.home, "dev", "issuer-key.json")]);
    expect(key.stderr).toMatch(/Permission denied/);
  });
});
