// Real PostgreSQL bytes: capture backend messages from the local server (127.0.0.1:5432, trust
// auth) over a raw socket, mask them, and check the result still parses and hides the values.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Socket } from "node:net";
import { serialize } from "pg-protocol";
import { Parser } from "pg-protocol/dist/parser.js";
import { twinMaskers } from "./harness.ts";
import { loadWasmModule as loadModule } from "../../wasm/loader/node.ts";

const MODULE = loadModule("mask");
import type { MaskingConfig } from "./config.ts";
import * as f from "./fixtures.ts";

class RawSession {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  constructor(private readonly socket: Socket) {
    socket.on("data", (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
  }
  static async open(): Promise<RawSession> {
    const socket = connect({ host: "127.0.0.1", port: 5432 });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const s = new RawSession(socket);
    socket.write(serialize.startup({ user: "postgres", database: "postgres" }));
    await s.untilReady();
    return s;
  }
  /** Bytes of complete messages up to and including the next ReadyForQuery. */
  async untilReady(): Promise<Uint8Array> {
    for (;;) {
      let o = 0;
      while (o + 5 <= this.buf.length) {
        const len = this.buf.readUInt32BE(o + 1);
        if (o + 1 + len > this.buf.length) break;
        const type = this.buf[o];
        o += 1 + len;
        if (type === 0x5a) {
          const out = new Uint8Array(this.buf.subarray(0, o));
          this.buf = this.buf.subarray(o);
          return out;
        }
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
  async query(sql: string): Promise<Uint8Array> {
    this.socket.write(serialize.query(sql));
    return this.untilReady();
  }
  async queryBinary(sql: string): Promise<Uint8Array> {
    this.socket.write(Buffer.concat([
      serialize.parse({ text: sql }),
      serialize.bind({ binary: true }),
      serialize.describe({ type: "P" }),
      serialize.execute({}),
      serialize.sync(),
    ]));
    return this.untilReady();
  }
  close(): void {
    this.socket.end(serialize.end());
  }
}

function parse(bytes: Uint8Array): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  new Parser().parse(Buffer.from(bytes), (m) => out.push(m as unknown as Record<string, unknown>));
  return out;
}

const CARD = "4111 1111 1111 1111";
const HASH = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
const TOKEN = "ghp_1234567890abcdefghijklmnopqrstuvwxyzAB";

describe("masking real PostgreSQL backend bytes", () => {
  let pg: RawSession;
  let oid = 0;
  let config: MaskingConfig;

  beforeAll(async () => {
    pg = await RawSession.open();
    await pg.query(`CREATE TEMP TABLE customers (id int primary key, name text, email text unique, card_number text,
      password_hash text, api_token text, notes jsonb, created_at timestamptz default '2024-01-15 10:30:00+00')`);
    await pg.query(`INSERT INTO customers (id, name, email, card_number, password_hash, api_token, notes) VALUES
      (1, 'Zoë Ångström', 'zoe@example.com', '${CARD}', '${HASH}', '${TOKEN}', '{"phone": "+1 415 555 2671"}'),
      (2, 'Bob', 'bob@example.org', '5500-0000-0000-0004', '$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG', null, null)`);
    const r = parse(await pg.query("SELECT 'customers'::regclass::oid"));
    oid = Number((r.find((m) => m.name === "dataRow")!.fields as string[])[0]);
    config = {
      rules: [
        { name: "credentials", columns: ["*password*", "customers.api_token"], style: "redact" },
        { name: "cards", columns: ["card_number"], style: "partial" },
        { name: "pii", detectors: ["all"], style: "hash" },
      ],
      hashKey: "tenant-key-0123456789",
      tables: { [oid]: "customers" },
    };
  });

  afterAll(() => pg?.close());

  it("SELECT (text format)", async () => {
    const raw = await pg.query("SELECT id, name, email, card_number, password_hash, api_token, notes, created_at FROM customers ORDER BY id");
    const m = twinMaskers(MODULE, config);
    const rows = parse(m.process(raw)).filter((x) => x.name === "dataRow").map((x) => x.fields as (string | null)[]);
    expect(rows[0]![0]).toBe("1");
    expect(rows[0]![1]).toBe("Zoë Ångström");
    expect(rows[0]![2]).toMatch(/^h:[0-9a-f]{16}$/);
    expect(rows[0]![3]).toBe("***************1111");
    expect(rows[0]![4]).toBe("[REDACTED]");
    expect(rows[0]![5]).toBe("[REDACTED]");
    expect(rows[0]![6]).toMatch(/^\{"phone": "h:[0-9a-f]{16}"\}$/);
    expect(JSON.parse(rows[0]![6]!)).toBeTypeOf("object");
    expect(rows[0]![7]).toBe("2024-01-15 10:30:00+00");
    expect(rows[1]![5]).toBeNull();
    expect(m.counts()).toEqual({ credentials: 3, cards: 2, pii: 3 });
  });

  it("SELECT (binary result format, extended protocol)", async () => {
    const raw = await pg.queryBinary("SELECT name, email, api_token, id FROM customers WHERE id = 1");
    const m = twinMaskers(MODULE, config);
    const out = m.process(raw);
    const row = f.splitMessages(out).find((x) => x[0] === 0x44)!;
    const [name, email, token, id] = f.dataRowValues(row);
    expect(name).toBe("Zoë Ångström");
    expect(email).toMatch(/^h:[0-9a-f]{16}$/);
    expect(token).toBe("[REDACTED]");
    expect(id).toBe("\u0000\u0000\u0000\u0001"); // int4 binary untouched
    expect(parse(out).map((x) => x.name)).toContain("readyForQuery");
  });

  it("COPY TO STDOUT, text and CSV", async () => {
    const m = twinMaskers(MODULE, config);
    const text = new TextDecoder();
    m.setCopyFormat("text", { columns: ["id", "name", "email", "card_number", "password_hash", "api_token", "notes", "created_at"], table: "customers" });
    const t = m.process(await pg.query("COPY customers TO STDOUT"));
    const tRows = f.splitMessages(t).filter((x) => x[0] === 0x64).map((x) => text.decode(x.subarray(5)));
    expect(tRows[0]).toMatch(/^1\tZoë Ångström\th:[0-9a-f]{16}\t\*{15}1111\t\[REDACTED\]\t\[REDACTED\]\t\{"phone": "h:[0-9a-f]{16}"\}\t2024-01-15 10:30:00\+00\n$/);
    expect(tRows[1]).toContain("\t\\N\t\\N\t");
    // column names unknown while column rules exist: fail closed (every field NULL)
    m.setCopyFormat("csv");
    const blind = m.process(await pg.query("COPY (SELECT id, email FROM customers ORDER BY id) TO STDOUT WITH (FORMAT csv)"));
    expect(f.splitMessages(blind).filter((x) => x[0] === 0x64).map((x) => text.decode(x.subarray(5)))).toEqual([",\n", ",\n"]);
    m.setCopyFormat("csv", { columns: ["id", "email", "notes"] });
    const c = m.process(await pg.query("COPY (SELECT id, email, notes FROM customers ORDER BY id) TO STDOUT WITH (FORMAT csv)"));
    const cRows = f.splitMessages(c).filter((x) => x[0] === 0x64).map((x) => text.decode(x.subarray(5)));
    expect(cRows[0]).toMatch(/^1,h:[0-9a-f]{16},"\{""phone"": ""h:[0-9a-f]{16}""\}"\n$/);
    expect(cRows[1]).toMatch(/^2,h:[0-9a-f]{16},\n$/);
    expect(parse(c).map((x) => x.name)).toEqual(expect.arrayContaining(["copyOutResponse", "copyData", "copyDone", "commandComplete", "readyForQuery"]));
  });

  it("unique violation DETAIL echoing the value", async () => {
    const m = twinMaskers(MODULE, config);
    const raw = await pg.query("INSERT INTO customers (id, email) VALUES (3, 'zoe@example.com')");
    expect(new TextDecoder().decode(raw)).toContain("zoe@example.com");
    const err = parse(m.process(raw)).find((x) => x.name === "error")!;
    expect(err.detail).toMatch(/^Key \(email\)=\(h:[0-9a-f]{16}\) already exists\.$/);
    expect(err.code).toBe("23505");

    const raw2 = await pg.query("INSERT INTO customers (id, api_token) VALUES (1, 'glpat-zzzzzzzzzzzzzzzzzzzz')");
    expect(parse(m.process(raw2)).find((x) => x.name === "error")!.detail).toBe("Key (id)=(1) already exists.");
  });

  it("NOTIFY payload", async () => {
    const m = twinMaskers(MODULE, config);
    await pg.query("LISTEN events");
    const raw = await pg.query("NOTIFY events, 'signup zoe@example.com card 4111111111111111'");
    const n = parse(m.process(raw)).find((x) => x.name === "notification")!;
    expect(n.channel).toBe("events");
    expect(n.payload).toMatch(/^signup h:[0-9a-f]{16} card h:[0-9a-f]{16}$/);
  });
});
