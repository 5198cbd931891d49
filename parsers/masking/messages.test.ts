// Example-based tests per backend message type: what is masked, how lengths/types stay valid.
import { describe, expect, it } from "vitest";
import { Parser } from "pg-protocol/dist/parser.js";
import { createMasker, MaskingError } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { MaskingConfigError, UNKNOWN_SHAPE_COUNT, type MaskingConfig } from "./config.ts";
import { twinMaskers } from "./harness.ts";
import { ReferenceMasker } from "./reference.ts";
import { loadWasmModule as loadModule } from "../../wasm/loader/node.ts";

const MODULE = loadModule("mask");
import * as f from "./fixtures.ts";

const CONFIG: MaskingConfig = {
  rules: [
    { name: "secrets", columns: ["*password*", "api_token"], style: "redact" },
    { name: "emails", columns: ["customers.email"], style: "hash" },
    { name: "cards", columns: ["card_number"], style: "partial" },
    { name: "content", detectors: ["all"], style: "redact" },
  ],
  hashKey: "tenant-key-0123456789",
  tables: { 16384: "customers" },
};

/** Parse a masked stream with pg-protocol (the stream must stay well-formed). */
function parsed(bytes: Uint8Array): { name: string; fields?: unknown[] }[] {
  const out: { name: string; fields?: unknown[] }[] = [];
  new Parser().parse(Buffer.from(bytes), (msg) => out.push(msg as unknown as { name: string; fields?: unknown[] }));
  return out;
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

describe("DataRow", () => {
  it("masks by column rule (table-qualified via OID map) and by detectors, keeping types valid", () => {
    const m = twinMaskers(MODULE, CONFIG);
    m.setTables({ 16384: "customers", 16385: "orders" });
    const input = f.concat([
      f.rowDescription([
        { name: "id", typeOid: 23, tableOid: 16384 },
        { name: "email", tableOid: 16384 },
        { name: "card_number", tableOid: 16384 },
        { name: "password_hash", tableOid: 16384 },
        { name: "note" },
        { name: "amount", typeOid: 1700 },
        { name: "doc", typeOid: 3802 },
        { name: "email", tableOid: 16385 },
        { name: "email", tableOid: 99 },
      ]),
      f.dataRow(["1", "ann@example.com", "4111111111111111", "$2b$12$xyz", "call +1 415 555 2671", "4111111111111111", '{"mail":"bob@x.io"}', "keep@example.com", "who@example.com"]),
      f.commandComplete("SELECT 1"),
    ]);
    const out = m.process(input);
    const msgs = parsed(out);
    expect(msgs.map((x) => x.name)).toEqual(["rowDescription", "dataRow", "commandComplete"]);
    const row = msgs[1]!.fields as (string | null)[];
    expect(row[0]).toBe("1");
    expect(row[1]).toMatch(/^h:[0-9a-f]{16}$/);
    expect(row[2]).toBe("************1111");
    expect(row[3]).toBe("[REDACTED]");
    expect(row[4]).toBe("call [REDACTED]");
    expect(row[5]).toBeNull(); // a numeric column cannot hold "[REDACTED]": NULL
    expect(row[6]).toBe('{"mail":"[REDACTED]"}');
    expect(row[7]).toBe("[REDACTED]"); // other table: no column rule, but the e-mail detector
    expect(row[8]).toMatch(/^h:/); // table unknown to the map: the column part alone decides
    expect(m.counts()).toEqual({ secrets: 1, emails: 2, cards: 1, content: 4 });
  });

  it("json/jsonb columns masked whole become JSON strings; binary non-text columns become NULL", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "r", columns: ["doc", "blob", "jb"], style: "redact" }] });
    const jsonbBinary = new Uint8Array([1, ...new TextEncoder().encode('{"a":1}')]);
    const out = m.process(f.concat([
      f.rowDescription([{ name: "doc", typeOid: 114 }, { name: "blob", typeOid: 17, format: 1 }, { name: "jb", typeOid: 3802, format: 1 }]),
      f.dataRow(['{"a":1}', new Uint8Array([0, 1, 2]), jsonbBinary]),
    ]));
    const row = f.splitMessages(out)[1]!;
    const values = f.dataRowValues(row);
    expect(values[0]).toBe('"[REDACTED]"');
    expect(values[1]).toBeNull();
    expect(values[2]).toBe('\u0001"[REDACTED]"');
  });

  it("returns the very same array when nothing needs masking", () => {
    const m = createMasker(loadWasmModule("mask"), CONFIG);
    const input = f.concat([f.rowDescription([{ name: "name" }]), f.dataRow(["Ann Lee, 2024-01-15 10:30:00, v1.2.3"]), f.readyForQuery()]);
    expect(m.process(input)).toBe(input);
  });

  it("fails closed on rows of unknown shape when column rules exist", () => {
    const m = twinMaskers(MODULE, CONFIG);
    // BindComplete then DataRow without a RowDescription (re-executed prepared statement)
    const out = m.process(f.concat([f.bindComplete(), f.dataRow(["1", "secret-ish"]), f.commandComplete("SELECT 1")]));
    expect(f.dataRowValues(f.splitMessages(out)[1]!)).toEqual([null, null]);
    expect(m.counts()[UNKNOWN_SHAPE_COUNT]).toBe(2);
    // with detectors only, unknown-shape values are scanned and NULLed on a hit
    const d = twinMaskers(MODULE, { rules: [{ name: "d", detectors: ["email"], style: "redact" }] });
    const out2 = d.process(f.concat([f.dataRow(["1", "a@example.com"])]));
    expect(f.dataRowValues(out2)).toEqual(["1", null]);
  });

  it("keeps state across process() calls split at message boundaries", () => {
    const m = twinMaskers(MODULE, CONFIG);
    m.process(f.rowDescription([{ name: "api_token" }]));
    expect(f.dataRowValues(m.process(f.dataRow(["tok"])))).toEqual(["[REDACTED]"]);
    m.process(f.commandComplete("SELECT 1"));
    expect(f.dataRowValues(m.process(f.dataRow(["tok"])))).toEqual([null]); // plan ended with the command
  });
});

describe("ErrorResponse / NoticeResponse", () => {
  it("masks values echoed in DETAIL, MESSAGE, HINT, WHERE; column-masked keys are masked whole", () => {
    const m = twinMaskers(MODULE, CONFIG);
    const out = m.process(f.concat([
      f.errorResponse({ S: "ERROR", C: "23505", M: "duplicate key value violates unique constraint", D: "Key (api_token)=(abc 123) already exists.", t: "customers", n: "customers_api_token_key" }),
      f.errorResponse({ S: "NOTICE", M: "user ann@example.com", D: "Key (name)=(Ann) already exists.", W: "PL/pgSQL function f() card 4111111111111111" }, "N"),
      f.errorResponse({ S: "ERROR", C: "23502", M: "null value in column", D: "Failing row contains (1, Ann, null).", t: "customers" }),
    ]));
    const msgs = parsed(out) as unknown as { name: string; detail?: string; message?: string; where?: string; table?: string }[];
    expect(msgs[0]!.detail).toBe("Key (api_token)=([REDACTED]) already exists.");
    expect(msgs[0]!.table).toBe("customers");
    expect(msgs[1]!.message).toBe("user [REDACTED]");
    expect(msgs[1]!.detail).toBe("Key (name)=(Ann) already exists.");
    expect(msgs[1]!.where).toBe("PL/pgSQL function f() card [REDACTED]");
    expect(msgs[2]!.detail).toBe("Failing row contains ([REDACTED]).");
  });
});

describe("NotificationResponse / FunctionCallResponse", () => {
  it("masks NOTIFY payloads; a function result with a hit becomes NULL", () => {
    const m = twinMaskers(MODULE, CONFIG);
    const fn = new Uint8Array([86, 0, 0, 0, 27, 0, 0, 0, 19, ...new TextEncoder().encode("x 4111111111111111 ")].slice(0, 28));
    fn[4] = 4 + 4 + 19;
    const out = m.process(f.concat([f.notification(7, "events", "signup ann@example.com"), fn]));
    const msgs = f.splitMessages(out);
    expect(text(msgs[0]!)).toContain("signup [REDACTED]");
    expect(Array.from(msgs[1]!)).toEqual([86, 0, 0, 0, 8, 255, 255, 255, 255]);
  });
});

describe("CopyData (COPY TO STDOUT)", () => {
  it("text format: detectors per field, NULL markers kept, column rules via setCopyFormat", () => {
    const m = twinMaskers(MODULE, CONFIG);
    m.setCopyFormat("text", { columns: ["id", "api_token", "note"], table: "customers" });
    const out = m.process(f.concat([
      f.copyOutResponse(0, 3),
      f.copyData("1\tsecret\tmail ann@example.com\\tx\n"),
      f.copyData("2\t\\N\t\\N\n"),
      f.copyDone(),
      f.commandComplete("COPY 2"),
    ]));
    const msgs = f.splitMessages(out);
    expect(text(msgs[1]!.subarray(5))).toBe("1\t[REDACTED]\tmail [REDACTED]\\tx\n");
    expect(text(msgs[2]!.subarray(5))).toBe("2\t\\N\t\\N\n");
  });

  it("CSV: quoted fields, doubled quotes, replacement bytes never collide with the delimiter", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "r", detectors: ["all"], style: "redact" }, { name: "h", patterns: ["tok:[a-z]+"], style: "hash" }], hashKey: "k".repeat(16) });
    m.setCopyFormat("csv", { delimiter: ":" });
    const out = m.process(f.concat([
      f.copyOutResponse(0, 3),
      f.copyData('1:"say ""hi"" to ann@example.com":plain\n'),
      f.copyDone(),
    ]));
    expect(text(f.splitMessages(out)[1]!.subarray(5))).toBe('1:"say ""hi"" to [REDACTED]":plain\n');
    // custom pattern containing the delimiter cannot match in this context (it would break the row)
    m.setCopyFormat("csv", { delimiter: ":" });
    const out2 = m.process(f.concat([f.copyOutResponse(0, 1), f.copyData("tok:abc\n"), f.copyDone()]));
    expect(text(f.splitMessages(out2)[1]!.subarray(5))).toBe("tok:abc\n");
  });

  it("text COPY with a delimiter that appears in the replacement: sanitized to '_'", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "r", detectors: ["email"], style: "hash" }], hashKey: "k".repeat(16) });
    m.setCopyFormat("text", { delimiter: ":" });
    const out = m.process(f.concat([f.copyOutResponse(0, 2), f.copyData("1:ann@example.com\n"), f.copyDone()]));
    expect(text(f.splitMessages(out)[1]!.subarray(5))).toMatch(/^1:h_[0-9a-f]{16}\n$/);
  });

  it("HEADER: the first row of the first CopyData passes unmasked and uncounted; data rows are masked", () => {
    const m = twinMaskers(MODULE, CONFIG);
    m.setCopyFormat("csv", { columns: ["id", "api_token", "note"], table: "customers", header: true });
    // Column names that look like data (an e-mail alias, a masked column name) stay as they are.
    const headerLine = 'id,api_token,"ann@example.com, ""quoted""\nname"\n';
    const out = m.process(f.concat([
      f.copyOutResponse(0, 3),
      f.copyData(headerLine),
      f.copyData("1,secret,mail bob@example.com\n"),
      f.copyDone(),
      f.commandComplete("COPY 1"),
    ]));
    const msgs = f.splitMessages(out);
    expect(text(msgs[1]!.subarray(5))).toBe(headerLine);
    expect(text(msgs[2]!.subarray(5))).toBe("1,[REDACTED],mail [REDACTED]\n");
    expect(m.counts()).toEqual({ secrets: 1, emails: 0, cards: 0, content: 1 });
  });

  it("HEADER covers one row only: a second row in the same message, or a header flag on a later COPY, is masked", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "r", detectors: ["email"], style: "redact" }] });
    m.setCopyFormat("text", { header: true });
    const out = m.process(f.concat([f.copyOutResponse(0, 1), f.copyData("ann@example.com\nbob@example.com\n"), f.copyData("cy@example.com\n"), f.copyDone()]));
    const msgs = f.splitMessages(out);
    expect(text(msgs[1]!.subarray(5))).toBe("ann@example.com\n[REDACTED]\n");
    expect(text(msgs[2]!.subarray(5))).toBe("[REDACTED]\n");
    // The next COPY without a setCopyFormat(…, { header: true }) has no header.
    const again = m.process(f.concat([f.copyOutResponse(0, 1), f.copyData("ann@example.com\n"), f.copyDone()]));
    expect(text(f.splitMessages(again)[1]!.subarray(5))).toBe("[REDACTED]\n");
    // header: false (the default) masks the first line like any row.
    m.setCopyFormat("csv", { header: false });
    const off = m.process(f.concat([f.copyOutResponse(0, 1), f.copyData("ann@example.com\n"), f.copyDone()]));
    expect(text(f.splitMessages(off)[1]!.subarray(5))).toBe("[REDACTED]\n");
    expect(m.counts()).toEqual({ r: 4 });
  });

  it("HEADER never applies to a binary COPY or to fields of unknown shape beyond the header", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "cols", columns: ["email"], style: "redact" }] });
    // unknownShape defaults to null (a column rule exists): without column names every data field is nulled, the header is not
    m.setCopyFormat("text", { header: true });
    const out = m.process(f.concat([f.copyOutResponse(0, 2), f.copyData("id\temail\n"), f.copyData("1\tann@example.com\n"), f.copyDone()]));
    const msgs = f.splitMessages(out);
    expect(text(msgs[1]!.subarray(5))).toBe("id\temail\n");
    expect(text(msgs[2]!.subarray(5))).toBe("\\N\t\\N\n");
    const sig = [80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    m.setCopyFormat("text", { columns: ["email"], header: true });
    const v = new TextEncoder().encode("a@example.com");
    const bin = m.process(f.concat([f.copyOutResponse(1, 1), f.copyData(new Uint8Array([...sig, 0, 1, 0, 0, 0, v.length, ...v])), f.copyDone()]));
    expect(Array.from(f.splitMessages(bin)[1]!.subarray(5))).toEqual([...sig, 0, 1, 255, 255, 255, 255]);
  });

  it("binary COPY: matching fields become NULL (-1)", () => {
    const m = twinMaskers(MODULE, { rules: [{ name: "r", detectors: ["email"], style: "redact" }] });
    const header = [80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const v = new TextEncoder().encode("a@example.com");
    const tuple = [0, 2, 0, 0, 0, 1, 55, 0, 0, 0, v.length, ...v];
    const out = m.process(f.concat([f.copyOutResponse(1, 2), f.copyData(new Uint8Array([...header, ...tuple])), f.copyData(new Uint8Array([255, 255])), f.copyDone()]));
    const d = f.splitMessages(out)[1]!;
    expect(Array.from(d.subarray(5))).toEqual([...header, 0, 2, 0, 0, 0, 1, 55, 255, 255, 255, 255]);
  });
});

describe("failure modes", () => {
  it("incomplete or malformed messages throw MaskingError (the worker ends the session)", () => {
    const m = createMasker(loadWasmModule("mask"), CONFIG);
    const row = f.dataRow(["x"]);
    expect(() => m.process(row.subarray(0, row.length - 1))).toThrow(MaskingError);
    const bad = row.slice();
    bad[8] = 0x7f; // field length beyond the message
    expect(() => createMasker(loadWasmModule("mask"), CONFIG).process(bad)).toThrow(MaskingError);
    const copyBoth = new Uint8Array([87, 0, 0, 0, 7, 0, 0, 0]);
    expect(() => createMasker(loadWasmModule("mask"), CONFIG).process(copyBoth)).toThrow(/cannot be masked/);
  });

  it("a message malformed after its first masked value throws too (no half-rewritten message goes on)", () => {
    // binary COPY: the e-mail in the first field changes the message; the second field's length
    // runs past it. Reference and WASM both refuse; WASM used to send the partial rewrite on.
    const header = [80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const v = new TextEncoder().encode("a@example.com");
    const tuple = [0, 2, 0, 0, 0, v.length, ...v, 0, 0, 0, 9, 55];
    const bad = f.concat([f.copyOutResponse(1, 2), f.copyData(new Uint8Array([...header, ...tuple]))]);
    const cfg: MaskingConfig = { rules: [{ name: "r", detectors: ["email"], style: "redact" }] };
    const m = createMasker(MODULE, cfg);
    expect(() => m.process(bad)).toThrow(MaskingError);
    expect(m.counts()).toEqual({ r: 0 }); // nothing counted for a message that was not released
    expect(() => new ReferenceMasker(cfg).process(bad)).toThrow(/malformed/);
    // a DataRow whose later field is cut short, after a masked field (same for every message kind)
    const row = f.concat([f.rowDescription([{ name: "a" }, { name: "b" }]), f.dataRow(["a@example.com", "xyz"])]);
    const cut = row.slice();
    cut[cut.length - 4] = 0x7f; // field b's length beyond the message
    expect(() => createMasker(MODULE, cfg).process(cut)).toThrow(MaskingError);
  });

  it("validates the configuration", () => {
    const bad: MaskingConfig[] = [
      { rules: [{ name: "a", columns: ["x"], style: "hash" }] }, // no key
      { rules: [{ name: "a", style: "redact" }] },
      { rules: [{ name: "a", columns: ["x"], style: "redact" }, { name: "a", columns: ["y"], style: "redact" }] },
      { rules: [{ name: "a", detectors: ["nope" as never], style: "redact" }] },
      { rules: [{ name: "a", columns: ["x"], style: "partial", keep: 99 }] },
    ];
    for (const cfg of bad) expect(() => createMasker(loadWasmModule("mask"), cfg)).toThrow(MaskingConfigError);
  });
});

describe("maskText (plain text, e.g. SSH output)", () => {
  it("runs the detectors without framing or column rules, and counts with process()", () => {
    const m = twinMaskers(MODULE, CONFIG);
    const enc = new TextEncoder();
    const plain = enc.encode("$ ls -la\ntotal 0\n");
    expect(m.maskText(plain)).toBe(plain);
    const out = m.maskText(enc.encode("export TOKEN=ghp_1234567890abcdefghijklmnopqrstuvwxyzAB\nmail ann@example.com\n"));
    expect(text(out)).toBe("export TOKEN=[REDACTED]\nmail [REDACTED]\n");
    expect(m.counts()).toEqual({ secrets: 0, emails: 0, cards: 0, content: 2 });
  });
});
