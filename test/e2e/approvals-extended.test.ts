/**
 * Approvals cover exactly what the approver saw, once (docs/APPROVALS.md): in the extended
 * protocol a held statement is approved at Bind time with its bound parameters, each further
 * execution (another Bind of the prepared statement, another Execute of the portal) is held
 * again, and approvers see the statement and every parameter, masked as literals, with nothing
 * hidden. Real `pg`, psql and a raw wire client through the real stack; ground truth from a
 * direct superuser connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import pg from "pg";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { eventually, gatehouse } from "./helpers.ts";
import { PgWire, bind, dataRow, errorFields, execute, parse, query, sync } from "./pg-wire.ts";
import { concat, cstring, message } from "../../protocols/postgres/codec/codec.ts";

const POLICY = `
version: 1
roles:
  approver:
    - issuer: http://127.0.0.1:8788
      claims: { groups: approvers }
rules:
  - name: dev-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.transaction, sql.session]
  - name: writes-need-approval
    effect: approve
    subjects: { issuer: http://127.0.0.1:8788, subject: "pipeline-*" }
    resources: [demo-pg]
    actions: [sql.write]
    timeout: 2m
masking:
  rules:
    - name: secrets-anywhere
      resources: [demo-pg]
      detectors: [all]
      style: redact
`;

let stack: TestStack;
let pipeline: TestConnection;
let su: pg.Client;
let approver: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  pipeline = await stack.connect("demo-pg", { sub: "pipeline-deploy" });
  approver = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } });
  const s = stack.pg.superuser!;
  su = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: s.user, password: s.password });
  await su.connect();
}, 180_000);

afterAll(async () => {
  await su?.end();
  await stack?.stop();
});

const cli = (args: string[]) => gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: approver });
const count = async (amount: string) => (await su.query("select count(*)::int as n from orders where amount = $1", [amount])).rows[0].n as number;

/** A pg client that collects hold notices; `nextHold()` resolves the id of the next one. */
async function pgClient(): Promise<{ client: pg.Client; nextHold(): Promise<string> }> {
  const client = new pg.Client({ connectionString: pipeline.url });
  const ids: string[] = [];
  client.on("notice", (n) => {
    const id = /held for approval (\S+)/.exec(n.message ?? "")?.[1];
    if (id) ids.push(id);
  });
  await client.connect();
  let taken = 0;
  return { client, nextHold: () => eventually(async () => (ids.length > taken ? ids[taken++] : undefined), "a hold notice") };
}

async function decide(id: string, verdict: "approve" | "deny"): Promise<void> {
  const r = await cli(verdict === "approve" ? ["approvals", "approve", id] : ["approvals", "deny", id, "--reason", "not this one"]);
  expect(r.code, r.stderr).toBe(0);
}

describe("extended-protocol approvals bind the parameters", () => {
  it("pg: the approver sees the statement and every bound parameter; it runs once, as approved", async () => {
    const { client, nextHold } = await pgClient();
    try {
      const pending = client.query("insert into orders (customer_id, amount, status) values ($1, $2, $3)", [1, "5151.51", "pending"]);
      const id = await nextHold();
      expect(await count("5151.51")).toBe(0);
      const show = await cli(["approvals", "show", id]);
      expect(show.stdout).toContain("insert into orders (customer_id, amount, status) values ($1, $2, $3)");
      expect(show.stdout).toContain("parameters (3):\n  $1 = '1'\n  $2 = '5151.51'\n  $3 = 'pending'\n");
      await decide(id, "approve");
      expect((await pending).rowCount).toBe(1);
      expect(await count("5151.51")).toBe(1);
    } finally {
      await client.end();
    }
  });

  it("pg: parameter values are masked for approvers like literals", async () => {
    const { client, nextHold } = await pgClient();
    try {
      const pending = client.query("insert into orders (customer_id, amount, status) values ($1, $2, $3)", [1, "5252.52", "ghp_0123456789abcdefghijABCDEFGHIJ012345"]).catch((e: Error) => e);
      const id = await nextHold();
      const show = await cli(["approvals", "show", id]);
      expect(show.stdout).toContain("parameters (3):");
      expect(show.stdout).not.toContain("ghp_0123456789abcdefghijABCDEFGHIJ012345");
      await decide(id, "deny");
      expect(((await pending) as pg.DatabaseError).code).toBe("42501");
      expect(await count("5252.52")).toBe(0);
    } finally {
      await client.end();
    }
  });

  it("pg: re-executing a prepared statement is held again, and a denial stops only that execution", async () => {
    const { client, nextHold } = await pgClient();
    try {
      const text = "insert into orders (customer_id, amount, status) values ($1, $2, 'pending')";
      const first = client.query({ name: "ins_order", text, values: [1, "5353.53"] });
      await decide(await nextHold(), "approve");
      await first;
      // Same prepared statement (pg sends only Bind/Execute now), other parameters: a new request.
      const second = client.query({ name: "ins_order", text, values: [1, "5454.54"] }).catch((e: Error) => e);
      const secondId = await nextHold();
      const show = await cli(["approvals", "show", secondId]);
      expect(show.stdout).toContain("$2 = '5454.54'");
      await decide(secondId, "deny");
      expect(((await second) as pg.DatabaseError).code).toBe("42501");
      // The same parameters again: still a new request, approved separately.
      const third = client.query({ name: "ins_order", text, values: [1, "5353.53"] });
      await decide(await nextHold(), "approve");
      await third;
    } finally {
      await client.end();
    }
    expect(await count("5353.53")).toBe(2);
    expect(await count("5454.54")).toBe(0);
  });

  it("raw wire: one approval runs one Execute; a second Execute of the same portal is held again", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    /** Reads up to ReadyForQuery, deciding each hold as it is announced; returns the other messages. */
    const round = async (verdicts: Array<"approve" | "deny">) => {
      const out: Array<{ type: string; fields?: Record<string, string> }> = [];
      for (;;) {
        const m = await wire.next();
        const hold = m.type === "N" ? /held for approval (\S+)/.exec(errorFields(m).M ?? "")?.[1] : undefined;
        if (hold) await decide(hold, verdicts.shift()!);
        else out.push({ type: m.type, ...(m.type === "E" ? { fields: errorFields(m) } : {}) });
        if (m.type === "Z") return out;
      }
    };
    try {
      // In a transaction block, so the portal outlives the first Sync.
      wire.send(query("begin"));
      expect((await round([])).map((m) => m.type)).toEqual(["C", "Z"]);
      wire.send(parse("s_wire", "insert into orders (customer_id, amount, status) values ($1, $2, 'pending')"), bind("p_wire", "s_wire", ["1", "5555.55"]), execute("p_wire"), sync());
      expect((await round(["approve"])).map((m) => m.type)).toEqual(["1", "2", "C", "Z"]);
      wire.send(query("savepoint before_again"));
      await round([]);
      // The same portal again: a second execution, so a second request — denied.
      wire.send(execute("p_wire"), sync());
      const again = await round(["deny"]);
      expect(again.map((m) => m.type)).toEqual(["E", "Z"]);
      expect(again[0]!.fields!.C).toBe("42501");
      expect(again[0]!.fields!.M).toContain("not this one");
      wire.send(query("rollback to savepoint before_again"));
      await round([]);
      wire.send(query("commit"));
      expect((await round([])).find((m) => m.type === "E")).toBeUndefined();
    } finally {
      wire.close();
    }
    // The approved execution ran exactly once.
    expect(await count("5555.55")).toBe(1);
  });
});

describe("what runs after an approval runs in the session state the approval was asked in", () => {
  it("raw wire: a SET the client sends while a statement is held waits behind it", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    try {
      // The held insert reports the time zone it ran under (the server's own answer). (search_path
      // and role cannot be set at all: they are pinned for the session.)
      wire.send(query("show timezone"));
      const before: string[] = [];
      for (let m = await wire.next(); m.type !== "Z"; m = await wire.next()) if (m.type === "D") before.push(String(dataRow(m)[0]));
      wire.send(query("insert into orders (customer_id, amount, status) values (1, 4343.43, 'pending') returning current_setting('TimeZone') as tz"));
      let id: string | undefined;
      while (!id) {
        const m = await wire.next();
        id = m.type === "N" ? /held for approval (\S+)/.exec(errorFields(m).M ?? "")?.[1] : undefined;
      }
      // Sent while held (the server would run it at once if it were forwarded).
      wire.send(query("set timezone = 'Pacific/Kiritimati'"), query("show timezone"));
      await new Promise((r) => setTimeout(r, 500));
      expect(await count("4343.43")).toBe(0);
      await decide(id, "approve");
      const answers: string[] = [];
      for (let ready = 0; ready < 3; ) {
        const m = await wire.next();
        if (m.type === "D") answers.push(String(dataRow(m)[0] ?? "NULL"));
        if (m.type === "E") answers.push(`error ${errorFields(m).M}`);
        if (m.type === "Z") ready++;
      }
      // The insert ran first, under the time zone it was held in; then the SET; then SHOW sees it.
      expect(before).toHaveLength(1);
      expect(before[0]).not.toBe("Pacific/Kiritimati");
      expect(answers).toEqual([before[0], "Pacific/Kiritimati"]);
    } finally {
      wire.close();
    }
    expect(await count("4343.43")).toBe(1);
  });
});

describe("parameters approvers cannot read", () => {
  it("a held statement binding a binary-format parameter is refused, not held", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    try {
      const int16 = (n: number) => new Uint8Array([(n >> 8) & 0xff, n & 0xff]);
      // One parameter, format 1 (binary), the int4 6060: the approver could not see its value.
      const binaryBind = message("B", concat([cstring(""), cstring("s_bin"), int16(1), int16(1), int16(1), new Uint8Array([0, 0, 0, 4, 0, 0, 0x17, 0xac]), int16(0)]));
      wire.send(parse("s_bin", "insert into orders (customer_id, amount, status) values (1, $1::int4, 'pending')"), binaryBind, execute(""), sync());
      const answer = await wire.untilReady();
      expect(answer.some((m) => m.type === "N")).toBe(false);
      const error = answer.find((m) => m.type === "E");
      expect(errorFields(error!).C).toBe("42501");
      expect(errorFields(error!).M).toContain("binary-format parameters");
    } finally {
      wire.close();
    }
    expect(await count("6060.00")).toBe(0);
  });
});

describe("the statement a name refers to is never guessed", () => {
  it("the private name of a held statement can be read back but not used", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    try {
      wire.send(parse("s_leak", "insert into orders (customer_id, amount, status) values (1, 6161.61, 'pending')"), sync());
      await wire.untilReady();
      wire.send(query("select name from pg_prepared_statements"));
      const names = (await wire.untilReady()).filter((m) => m.type === "D").map((m) => String(dataRow(m)[0]));
      const privateName = names.find((n) => n.startsWith("gatehouse_held_"));
      expect(privateName).toBeDefined();
      wire.send(bind("", privateName!, []), execute(""), sync());
      const answer = await wire.untilReady();
      expect(answer.some((m) => m.type === "N")).toBe(false);
      const error = answer.find((m) => m.type === "E");
      expect(errorFields(error!).C).toBe("42501");
      expect(errorFields(error!).M).toContain("reserved for the gateway");
    } finally {
      wire.close();
    }
    expect(await count("6161.61")).toBe(0);
  });

  it("a held statement stays unreachable when a later Parse of the same name is skipped by the server", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    try {
      // Prepared under the unnamed statement; never bound, so never held.
      wire.send(parse("", "insert into orders (customer_id, amount, status) values (1, 5858.58, 'pending')"), sync());
      expect((await wire.untilReady()).map((m) => m.type)).toEqual(["1", "Z"]);
      // An error first, so the server skips the allowed Parse that would replace the unnamed statement.
      wire.send(bind("", "no_such_statement", []), parse("", "select 1"), sync());
      expect((await wire.untilReady()).map((m) => m.type)).toEqual(["E", "Z"]);
      // Binding the unnamed statement now must not run the held INSERT without an approval.
      wire.send(bind("", "", []), execute(""), sync());
      const answer = await wire.untilReady();
      expect(answer.some((m) => m.type === "N" && /held for approval/.test(errorFields(m).M ?? ""))).toBe(false);
      expect(answer.find((m) => m.type === "E")).toBeDefined();
    } finally {
      wire.close();
    }
    expect(await count("5858.58")).toBe(0);
  });

  it("an approved portal stays unreachable when a later Bind of the same portal name is skipped by the server", async () => {
    const wire = await PgWire.open(pipeline.port, "pipeline-deploy", "demo-pg");
    const notices: string[] = [];
    const round = async (approve: boolean) => {
      const out: string[] = [];
      for (;;) {
        const m = await wire.next();
        const hold = m.type === "N" ? /held for approval (\S+)/.exec(errorFields(m).M ?? "")?.[1] : undefined;
        if (hold) {
          notices.push(hold);
          await decide(hold, approve ? "approve" : "deny");
        } else out.push(m.type);
        if (m.type === "Z") return out;
      }
    };
    try {
      wire.send(query("begin"));
      await round(false);
      // Approved once, never executed.
      wire.send(parse("s_held", "insert into orders (customer_id, amount, status) values (1, $1, 'pending')"), parse("s_ok", "select 1"), bind("p_same", "s_held", ["5959.59"]), sync());
      expect(await round(true)).toEqual(["1", "1", "2", "Z"]);
      expect(notices).toHaveLength(1);
      wire.send(query("savepoint sp"));
      await round(false);
      // An error first, so the server skips the Bind that would re-bind p_same to the allowed statement.
      wire.send(bind("x", "no_such_statement", []), bind("p_same", "s_ok", []), sync());
      expect(await round(false)).toEqual(["E", "Z"]);
      wire.send(query("rollback to savepoint sp"));
      await round(false);
      // p_same now means the allowed statement to the gateway; the approved portal is not reachable by that name.
      wire.send(execute("p_same"), execute("p_same"), sync());
      const answer = await round(false);
      expect(answer[0]).toBe("E");
      expect(notices).toHaveLength(1);
      // Committed: had the INSERT run under the old name, its rows would now be visible.
      wire.send(query("commit"));
      await round(false);
    } finally {
      wire.close();
    }
    expect(await count("5959.59")).toBe(0);
  });
});

describe("what approvers see cannot hide structure", () => {
  it("a statement after a carriage return is shown on its own line, not inside the comment", async () => {
    const { client, nextHold } = await pgClient();
    try {
      // PostgreSQL ends a -- comment at \r: the INSERT is real and must be visible as such.
      const pending = client.query("select 1 -- harmless\rinsert into orders (customer_id, amount, status) values (1, 5656.56, 'pending')").catch((e: Error) => e);
      const id = await nextHold();
      const show = await cli(["approvals", "show", id]);
      expect(show.stdout).toContain("\n  select 1 -- harmless\n  insert into orders (customer_id, amount, status) values (1, 5656.56, 'pending')\n");
      await decide(id, "deny");
      expect(((await pending) as pg.DatabaseError).code).toBe("42501");
    } finally {
      await client.end();
    }
    expect(await count("5656.56")).toBe(0);
  });

  it("psql: a held multi-statement query shows every statement in full", async () => {
    const child = spawn("psql", [pipeline.url, "-X", "-c", "select 'x'; update orders set amount = 5757.57 where id = -1; insert into orders (customer_id, amount, status) values (1, 5757.57, 'paid')"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const done = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)));
    const id = await eventually(async () => /held for approval (\S+)/.exec(stderr)?.[1], "the psql hold notice");
    const show = await cli(["approvals", "show", id]);
    expect(show.stdout).toContain("select 'x'; update orders set amount = 5757.57 where id = -1; insert into orders (customer_id, amount, status) values (1, 5757.57, 'paid')");
    await decide(id, "approve");
    expect(await done).toBe(0);
    expect(await count("5757.57")).toBe(1);
  });
});
