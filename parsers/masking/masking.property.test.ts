// Property tests: the WASM masker and the plain TypeScript reference produce identical bytes and
// counts for random message streams (random rows, sensitive values at random positions, UTF-8
// around them, random rules, random splits of the stream into process() calls).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createMasker } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { ReferenceMasker } from "./reference.ts";
import { DETECTORS, type MaskingConfig, type MaskingRule, type CopyFormatOptions } from "./config.ts";
import { POSITIVES, NEGATIVES } from "./samples.ts";
import * as f from "./fixtures.ts";

const wasm = loadWasmModule("mask");

const SENSITIVE = [...Object.values(POSITIVES).flat(), ...Object.values(NEGATIVES).flat()];
const FILLER = ["é", "日本語", "🙂", " ", "-", ".", "@", "\t", "\n", "\\", '"', ",", "$", "+", "(", ")", "=", ":", "_", "/", "0", "4", "42", "x", "A", "e",
  "abc", "Key (", ")=(", "Bearer ", "aws", "secret", "-----BEGIN ", "PRIVATE KEY-----", "\u0080", "\u00ff"];

const piece = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SENSITIVE) },
  { weight: 4, arbitrary: fc.constantFrom(...FILLER) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[0-9 -]{1,24}$/) },
);
const value = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(""));
const rawBytes = fc.uint8Array({ maxLength: 24 });

const COLUMN_NAMES = ["id", "name", "email", "card_number", "password_hash", "api_token", "note", "ssn", "Password", "data", "payload", "créé"];
const TYPES = [25, 1043, 23, 20, 1184, 114, 3802, 17, 2950, 0, 99999, 19, 1009, 1700];
const column = fc.record({
  name: fc.constantFrom(...COLUMN_NAMES),
  tableOid: fc.constantFrom(0, 16384, 16385),
  typeOid: fc.constantFrom(...TYPES),
  format: fc.constantFrom<0 | 1>(0, 0, 0, 1),
});

const GLOBS = ["*password*", "ssn", "customers.email", "orders.*", "card_?umber", "*", "api_*", "public.customers.note", "cr*"];
const PATTERNS = ["EMP-\\d{6}", "[A-Z]{3}\\d+", "\\bsecret\\w*", "x[^ ]{2,5}", "[0-9a-f]{8}\\b", ".{3}@", "tok_[A-Za-z0-9]{4,}", "\"[a-z]+\""];
const rule = (k: number): fc.Arbitrary<MaskingRule> =>
  fc.record({
    columns: fc.option(fc.subarray(GLOBS, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    detectors: fc.option(fc.subarray([...DETECTORS], { minLength: 1 }), { nil: undefined }),
    patterns: fc.option(fc.subarray(PATTERNS, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    style: fc.constantFrom<"redact" | "partial" | "hash">("redact", "partial", "hash"),
    keep: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
  }).map((r) => ({ name: `rule${k}`, ...r, detectors: r.detectors ?? (r.columns || r.patterns ? undefined : ["all" as const]) }));

const config: fc.Arbitrary<MaskingConfig> = fc
  .record({
    n: fc.integer({ min: 1, max: 4 }),
    seed: fc.array(fc.integer(), { minLength: 4, maxLength: 4 }),
    unknownShape: fc.constantFrom<"null" | "detect" | undefined>("null", "detect", undefined),
  })
  .chain(({ n, unknownShape }) =>
    fc.tuple(...Array.from({ length: n }, (_, k) => rule(k))).map((rules) => ({
      rules,
      hashKey: "tenant-key-0123456789",
      tables: { 16384: "customers", 16385: "public.orders" },
      unknownShape,
    })),
  );

type Step =
  | { kind: "bytes"; bytes: Uint8Array }
  | { kind: "copyFormat"; format: "text" | "csv"; options: CopyFormatOptions };

const csvField = (s: string, delim: string) =>
  s === "" || /[",\n\r]/.test(s) || s.includes(delim) ? `"${s.replace(/"/g, '""')}"` : s;
const textField = (s: string, delim: string) =>
  s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t").split(delim).join("\\" + delim);

function binaryCopy(rows: (Uint8Array | string | null)[][], header: boolean): Uint8Array {
  const parts: Uint8Array[] = [];
  if (header) parts.push(new Uint8Array([80, 71, 67, 79, 80, 89, 10, 255, 13, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
  for (const row of rows) {
    const n = new Uint8Array(2);
    new DataView(n.buffer).setInt16(0, row.length);
    parts.push(n);
    for (const v of row) {
      const b = v === null ? null : typeof v === "string" ? f.utf8(v) : v;
      const len = new Uint8Array(4);
      new DataView(len.buffer).setInt32(0, b === null ? -1 : b.length);
      parts.push(len);
      if (b) parts.push(b);
    }
  }
  return f.concat(parts);
}

const cell = fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: rawBytes });
const textCell = fc.oneof({ weight: 6, arbitrary: value }, { weight: 1, arbitrary: fc.constant(null) });

const querySteps: fc.Arbitrary<Step[]> = fc
  .record({ cols: fc.array(column, { minLength: 1, maxLength: 5 }), rows: fc.array(fc.array(cell, { minLength: 5, maxLength: 5 }), { maxLength: 4 }), describe: fc.boolean(), extra: fc.boolean() })
  .map(({ cols, rows, describe, extra }) => {
    const msgs: Uint8Array[] = [];
    if (describe) msgs.push(f.rowDescription(cols));
    for (const r of rows) msgs.push(f.dataRow(r.slice(0, extra ? cols.length + 1 : cols.length)));
    msgs.push(f.commandComplete(`SELECT ${rows.length}`));
    return msgs.map((bytes) => ({ kind: "bytes" as const, bytes }));
  });

const errorStep: fc.Arbitrary<Step[]> = fc
  .record({ m: value, d: value, detailKey: fc.constantFrom("email", "card_number", "name", "\"password\"", "id, ssn", "lower(email::text)"), t: fc.constantFrom("customers", "orders", ""), notice: fc.boolean(), form: fc.integer({ min: 0, max: 2 }) })
  .map(({ m, d, detailKey, t, notice, form }) => {
    const detail = form === 0 ? `Key (${detailKey})=(${d}) already exists.` : form === 1 ? `Failing row contains (${d}).` : d;
    const fields: Record<string, string> = { S: "ERROR", V: "ERROR", C: "23505", M: m, D: detail, W: `SQL function ${m}` };
    if (t) fields.t = t;
    fields.n = "customers_email_key";
    return [{ kind: "bytes" as const, bytes: f.errorResponse(fields, notice ? "N" : "E") }];
  });

const notifyStep: fc.Arbitrary<Step[]> = value.map((payload) => [{ kind: "bytes" as const, bytes: f.notification(4242, "events", payload.replace(/\0/g, "")) }]);

const copyStep: fc.Arbitrary<Step[]> = fc
  .record({
    format: fc.constantFrom<"text" | "csv" | "binary">("text", "csv", "binary"),
    announce: fc.boolean(),
    delimiter: fc.constantFrom(undefined, "|", ":", ";"),
    columns: fc.option(fc.subarray(COLUMN_NAMES, { minLength: 3, maxLength: 3 }), { nil: undefined }),
    rows: fc.array(fc.array(textCell, { minLength: 3, maxLength: 3 }), { maxLength: 4 }),
    // HEADER: the server's header line (random text, secrets included: it must pass unmasked in
    // both, and only the first row of the first CopyData). A binary COPY ignores the flag.
    header: fc.boolean(),
    headerCells: fc.array(value, { minLength: 3, maxLength: 3 }),
  })
  .map(({ format, announce, delimiter, columns, rows, header, headerCells }) => {
    const steps: Step[] = [];
    if (announce && format !== "binary") steps.push({ kind: "copyFormat", format, options: { delimiter, columns, table: "customers", header } });
    if (announce && format === "binary") steps.push({ kind: "copyFormat", format: "text", options: { columns, header } });
    const delim = delimiter ?? (format === "csv" && announce ? "," : "\t");
    steps.push({ kind: "bytes", bytes: f.copyOutResponse(format === "binary" ? 1 : 0, 3) });
    if (header && format !== "binary") rows = [headerCells, ...rows];
    rows.forEach((row, k) => {
      if (format === "binary") steps.push({ kind: "bytes", bytes: f.copyData(binaryCopy([row], k === 0)) });
      else if (format === "csv" && announce) steps.push({ kind: "bytes", bytes: f.copyData(row.map((c) => (c === null ? "" : csvField(c, delim))).join(delim) + "\n") });
      else steps.push({ kind: "bytes", bytes: f.copyData(row.map((c) => (c === null ? "\\N" : textField(c, delim))).join(delim) + "\n") });
    });
    if (format === "binary") steps.push({ kind: "bytes", bytes: f.copyData(f.concat([binaryCopy([], rows.length === 0), new Uint8Array([255, 255])])) });
    steps.push({ kind: "bytes", bytes: f.copyDone() }, { kind: "bytes", bytes: f.commandComplete("COPY 1") });
    return steps;
  });

const stream = fc.array(fc.oneof({ weight: 4, arbitrary: querySteps }, errorStep, notifyStep, { weight: 2, arbitrary: copyStep }, fc.constant([{ kind: "bytes" as const, bytes: f.readyForQuery() }])), { minLength: 1, maxLength: 6 }).map((x) => x.flat());

/** Group consecutive byte steps into process() calls at random message boundaries. */
function batches(steps: Step[], cuts: boolean[]): Step[] {
  const out: Step[] = [];
  let acc: Uint8Array[] = [];
  let k = 0;
  const flush = () => {
    if (acc.length) out.push({ kind: "bytes", bytes: f.concat(acc) });
    acc = [];
  };
  for (const s of steps) {
    if (s.kind === "copyFormat") {
      flush();
      out.push(s);
      continue;
    }
    acc.push(s.bytes);
    if (cuts[k++ % cuts.length]) flush();
  }
  flush();
  return out;
}

describe("WASM masker ≡ TypeScript reference", () => {
  it("produces identical bytes and counts on random streams", () => {
    fc.assert(
      fc.property(config, stream, fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), (cfg, steps, cuts) => {
        const a = createMasker(wasm, cfg);
        const b = new ReferenceMasker(cfg);
        for (const step of batches(steps, cuts)) {
          if (step.kind === "copyFormat") {
            a.setCopyFormat(step.format, step.options);
            b.setCopyFormat(step.format, step.options);
            continue;
          }
          const input = step.bytes.slice();
          let outA: Uint8Array, outB: Uint8Array;
          try {
            outA = a.process(step.bytes);
          } catch (err) {
            expect(() => b.process(step.bytes)).toThrow(); // both refuse the same input
            throw err;
          }
          outB = b.process(step.bytes);
          expect(Buffer.from(outA).toString("hex")).toBe(Buffer.from(outB).toString("hex"));
          expect(step.bytes).toEqual(input); // input never modified
          // the output is a well-formed message stream
          const msgs = f.splitMessages(outA);
          expect(msgs.reduce((n, m) => n + m.length, 0)).toBe(outA.length);
        }
        expect(a.counts()).toEqual(b.counts());
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("agrees on long free-text values with detector-only rules (SIMD skipping and prefilters)", () => {
    const words = fc.constantFrom("order", "shipped", "to", "the", "über", "déjà", "vu", "ok", "status:", "#4521", "Bearer", "eyJ", "gh", "x", "-", "$", "(", "+", "AWS", "secret", "@");
    const text = fc.array(fc.oneof({ weight: 8, arbitrary: words }, { weight: 1, arbitrary: fc.constantFrom(...SENSITIVE) }), { minLength: 5, maxLength: 80 })
      .chain((parts) => fc.array(fc.constantFrom(" ", "", "  ", "\n", ","), { minLength: parts.length, maxLength: parts.length }).map((seps) => parts.map((p, k) => p + seps[k]).join("")));
    fc.assert(
      fc.property(fc.subarray([...DETECTORS], { minLength: 1 }), fc.array(text, { minLength: 1, maxLength: 6 }), (detectors, values) => {
        const cfg: MaskingConfig = { rules: [{ name: "d", detectors, style: "partial" }] };
        const a = createMasker(wasm, cfg);
        const b = new ReferenceMasker(cfg);
        const input = f.concat([f.rowDescription(values.map((_, k) => ({ name: `c${k}` }))), f.dataRow(values)]);
        expect(Buffer.from(a.process(input)).toString("hex")).toBe(Buffer.from(b.process(input)).toString("hex"));
        for (const v of values) {
          const t = f.utf8(v);
          expect(Buffer.from(a.maskText(t)).toString("hex")).toBe(Buffer.from(b.maskText(t)).toString("hex"));
        }
        expect(a.counts()).toEqual(b.counts());
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("agrees on prose no detector can start in, with a few start bytes anywhere (the prefilter's no-candidate shortcut)", () => {
    // Prose of bytes that start no detector (no digits, capitals, b e g x - $ + ( @, multi-byte
    // UTF-8), long enough for several 16-byte chunks, with 0-3 insertions at any offset (chunk
    // boundaries, first and last byte): a single start byte, a gate's bytes alone ("r ", "yJ", "@",
    // "ws"), or a real match. Rows, COPY text/CSV fields and plain text.
    const prose = fc.array(fc.constantFrom("a", "c", "d", "f", "h", "i", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "w", "y", "z", " ", ",", ".", "é", "日本", "🙂", "\u00a0", "r ", "lorem ipsum dolor sit amet "), { maxLength: 120 }).map((p) => p.join(""));
    const trigger = fc.oneof(
      fc.constantFrom("e", "b", "B", "g", "x", "-", "$", "+", "(", "A", "Q", "1", "7", "@", "yJ", "r ", "ws", "cr", "\u00ff", "0".repeat(40), "4111 1111 1111 1111", "+1 415 555 0100"),
      fc.constantFrom(...SENSITIVE),
    );
    const value = fc.tuple(prose, fc.array(fc.tuple(trigger, fc.nat()), { maxLength: 3 })).map(([base, inserts]) => {
      let v = base;
      for (const [t, at] of inserts) {
        const cut = [...v].slice(0, at % ([...v].length + 1)).join("").length;
        v = v.slice(0, cut) + t + v.slice(cut);
      }
      return v;
    });
    fc.assert(
      fc.property(fc.subarray([...DETECTORS], { minLength: 1 }), fc.array(value, { minLength: 1, maxLength: 4 }), (detectors, values) => {
        const cfg: MaskingConfig = { rules: [{ name: "d", detectors, style: "partial" }] };
        const a = createMasker(wasm, cfg);
        const b = new ReferenceMasker(cfg);
        const same = (input: Uint8Array) => expect(Buffer.from(a.process(input)).toString("hex")).toBe(Buffer.from(b.process(input)).toString("hex"));
        same(f.concat([f.rowDescription(values.map((_, k) => ({ name: `c${k}` }))), f.dataRow(values)]));
        for (const format of ["text", "csv"] as const) {
          const delim = format === "csv" ? "," : "\t";
          const line = values.map((v) => (format === "csv" ? csvField(v, delim) : textField(v, delim))).join(delim) + "\n";
          a.setCopyFormat(format);
          b.setCopyFormat(format);
          same(f.concat([f.copyOutResponse(0, values.length), f.copyData(line), f.copyData(line), f.copyDone(), f.commandComplete("COPY 2")]));
        }
        for (const v of values) {
          const t = f.utf8(v);
          expect(Buffer.from(a.maskText(t)).toString("hex")).toBe(Buffer.from(b.maskText(t)).toString("hex"));
        }
        expect(a.counts()).toEqual(b.counts());
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("keeps large values and output growth consistent (NEED_SPACE path)", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom("a@b.io ", "x", "4111111111111111 ", "é"), { minLength: 2000, maxLength: 6000 }), (parts) => {
        const cfg: MaskingConfig = { rules: [{ name: "all", detectors: ["all"], patterns: ["x"], style: "hash" }], hashKey: "k".repeat(32) };
        const a = createMasker(wasm, cfg);
        const b = new ReferenceMasker(cfg);
        const input = f.concat([f.rowDescription([{ name: "v" }]), f.dataRow([parts.join("")])]);
        expect(Buffer.from(a.process(input)).equals(Buffer.from(b.process(input)))).toBe(true);
        expect(a.counts()).toEqual(b.counts());
      }),
      { numRuns: 10 },
    );
  });
});
