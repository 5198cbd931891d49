// Differential tests for the WASM scanner's fast paths (wasm/assembly/mask.ts, mask/chars.ts,
// mask/sha256.ts) against the plain reference (reference.ts), byte for byte and count for count:
// - the probe at a value's first byte (a match there skips the prefilter pass), with and without
//   the detector that matches, and with text after the match that extends or ends it;
// - the e-mail window (only the local-part run before the next '@', at most 64 bytes, is tried);
// - class runs read 16 bytes per step (span()): tokens one byte short, exact and one byte long,
//   broken by an ASCII or a non-ASCII byte, at every offset from a 16-byte block edge;
// - inline copies up to 512 bytes and the HMAC's inline last block (every length 0..200);
// - the skip to the next candidate (simdSkip(): word starts by the previous byte's class, start
//   bytes by nibble class, capitals only with 2+ digits in the value, the tail in a masked chunk);
// - digit runs 16 bytes per step, the two-chunk Luhn of unseparated numbers, and the early exits
//   of card (13 digits within 25 bytes) and phone (8 digits within 16 bytes) at their limits;
// - e-mail domains checked 16 bytes per step (dots at block edges, long domains, bad TLDs);
// - digit lanes of the skip cut to where a card, SSN or phone can start (digitStarts(): the
//   detectors' own first checks), with near misses one digit or separator off each shape;
// - values over 16 bytes read once by the skip with every detector on (valueMask()), the AWS
//   secret key's prefilter pass only where a whole 16-byte chunk of 0x2B-0x7F bytes can hold one;
// - DataRows after a changed row rewritten at once (run()'s rowsChanging): runs of changed and
//   unchanged rows, output growth past the output region mid-row, malformed rows after a change.
// Values sit in DataRows (streams split into process() calls at random message boundaries),
// COPY text rows and plain text (maskText).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createMasker, MaskingError } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { ReferenceMasker } from "./reference.ts";
import { DETECTORS, type DetectorName, type MaskingConfig } from "./config.ts";
import * as f from "./fixtures.ts";

const wasm = loadWasmModule("mask");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

const ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const run = (n: number, alphabet: string, seed: number) => Array.from({ length: n }, (_, k) => alphabet[(seed * 7 + k * 13) % alphabet.length]).join("");

/** Values whose match (if any) starts at byte 0, lengths around each detector's limits. */
const headMatch = fc
  .tuple(fc.integer({ min: -1, max: 1 }), fc.nat(1000))
  .chain(([d, seed]) =>
    fc.constantFrom(
      `ghp_${run(36 + d, ALNUM, seed)}`,
      `github_pat_${run(22 + d, ALNUM + "_", seed)}`,
      `glpat-${run(20 + d, ALNUM + "-_", seed)}`,
      `xoxb-${run(10 + d, ALNUM + "-", seed)}`,
      `AKIA${run(16 + d, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", seed)}`,
      `$2b$12$${run(53 + d, ALNUM + "./", seed)}`,
      `$argon2id$${run(20 + d, ALNUM + "./+=,$", seed)}`,
      `eyJ${run(7 + d, ALNUM + "-_", seed)}.${run(2 + d, ALNUM, seed)}.${run(5, ALNUM, seed)}`,
      `Bearer ${run(8 + d, ALNUM + "._~+/=-", seed)}`,
      `${run(Math.max(1, 64 + d), ALNUM + "._%+-", seed).replace(/^[^A-Za-z0-9]/, "a")}@example.com`,
      `${run(5, "abc", seed)}@${run(3, "abc", seed)}.c${d > 0 ? "om" : d === 0 ? "o" : ""}`,
      "4111 1111 1111 1111",
      "4111111111111111",
      "+1 415 555 0100",
      "(415) 555-0100",
      "078-05-1120",
      "DE89 3704 0044 0532 0130 00",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
      "abc",
      "",
    ),
  );
/** Text after the head: may extend the match (word bytes, digits), end it, or hold more matches. */
const tail = fc.constantFrom("", "x", "_", "0", " ", ".", "-", "@", "é", "\u00ff", " 4111 1111 1111 1111", " a@b.io", " secret aws ", "日本");
/** Padding before a value: moves every later byte against the 16-byte blocks the SIMD paths read. */
const pad = fc.nat(33).map((n) => "x ".repeat(n >> 1) + (n & 1 ? "é" : ""));

function agree(cfg: MaskingConfig, values: string[], cuts: number[]): void {
  const a = createMasker(wasm, cfg);
  const b = new ReferenceMasker(cfg);
  // each value twice per row (around a NULL): the second copy is masked after the row changed
  const msgs = [f.rowDescription([{ name: "a" }, { name: "b" }, { name: "c" }]), ...values.map((v) => f.dataRow([v, null, v]))];
  // batches of whole messages, cut where `cuts` says
  let from = 0;
  for (const cut of [...cuts.map((c) => 1 + (c % msgs.length)), msgs.length].sort((x, y) => x - y)) {
    if (cut <= from) continue;
    const batch = f.concat(msgs.slice(from, cut));
    expect(hex(a.process(batch))).toBe(hex(b.process(batch)));
    from = cut;
  }
  const line = values.map((v) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\t/g, "\\t")).join("\t") + "\n";
  a.setCopyFormat("text");
  b.setCopyFormat("text");
  const copy = f.concat([f.copyOutResponse(0, values.length), f.copyData(line), f.copyDone(), f.commandComplete("COPY 1")]);
  expect(hex(a.process(copy))).toBe(hex(b.process(copy)));
  for (const v of values) {
    const t = f.utf8(v);
    expect(hex(a.maskText(t))).toBe(hex(b.maskText(t)));
  }
  expect(a.counts()).toEqual(b.counts());
}

const detectorSets: fc.Arbitrary<DetectorName[]> = fc.oneof(fc.constant<DetectorName[]>([...DETECTORS]), fc.subarray<DetectorName>([...DETECTORS], { minLength: 1 }));
const style = fc.constantFrom<"redact" | "partial" | "hash">("redact", "partial", "hash");

describe("WASM scanner fast paths agree with the reference", () => {
  it("a match at the value's first byte (probe), with or without padding before it and text after it", () => {
    fc.assert(
      fc.property(detectorSets, style, fc.array(fc.tuple(fc.boolean(), pad, headMatch, tail, tail), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, st, parts, cuts) => {
        const values = parts.map(([padded, p, h, t1, t2]) => (padded ? p : "") + h + t1 + t2);
        agree({ rules: [{ name: "d", detectors, style: st }], hashKey: "k".repeat(24) }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("e-mail windows: local-part runs around 64 bytes, '@' at any offset from a block edge, broken runs", () => {
    const local = fc.tuple(fc.integer({ min: 1, max: 70 }), fc.nat(1000)).map(([n, seed]) => run(n, ALNUM + "._%+-", seed));
    const breaker = fc.constantFrom("", " ", "é", "\u00ff", "@", ",", "!", "\t");
    const value = fc.tuple(pad, breaker, local, fc.constantFrom("@example.com", "@x.io", "@", "@-a.io", "@a..io", "@a.b", "@a.bc."), tail).map((p) => p.join(""));
    fc.assert(
      fc.property(fc.constantFrom<DetectorName[]>(["email"], ["email", "aws_secret_key"], [...DETECTORS]), fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, values, cuts) => {
        agree({ rules: [{ name: "e", detectors, style: "redact" }] }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 300) },
    );
  });

  it("class runs cut by one byte at every offset from a 16-byte block edge", () => {
    const value = fc.tuple(pad, headMatch, fc.nat(70), fc.constantFrom("é", "\u0080", "\u00ff", " ", "!", "~", "/", "=", "-", "_", ".", "@", "0", "Z")).map(([p, h, at, c]) => {
      const k = at % (h.length + 1);
      return p + h.slice(0, k) + c + h.slice(k);
    });
    fc.assert(
      fc.property(detectorSets, fc.array(value, { minLength: 1, maxLength: 6 }), (detectors, values) => {
        agree({ rules: [{ name: "d", detectors, style: "partial", keep: 3 }] }, values, []);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("hash style and long copies: values of every length 0..600 (HMAC blocks, inline copies up to 512 bytes)", () => {
    const lengths = Array.from({ length: 201 }, (_, n) => n).concat([255, 256, 511, 512, 513, 600]);
    const values = lengths.map((n) => run(n, "lorem ipsum é ", n));
    // column rule with hash style: the whole value is the HMAC's message
    const cfg: MaskingConfig = { rules: [{ name: "h", columns: ["a"], style: "hash" }, { name: "d", detectors: ["all"], style: "redact" }], hashKey: "tenant-key-0123456789" };
    agree(cfg, values, [50, 120]);
    // detectors only: long values between matches are copied through (inline up to 512 bytes)
    agree({ rules: [{ name: "d", detectors: ["all"], style: "hash" }], hashKey: "tenant-key-0123456789" }, values.map((v, k) => `${v} a${k}@b.io ${v}`), [7]);
  });

  it("digit runs: Luhn-valid and -invalid numbers of 11..34 digits, plain or grouped, after digits or separators", () => {
    const luhnDigit = (body: string) => {
      let sum = 0;
      [...body].reverse().forEach((ch, k) => {
        let d = Number(ch);
        if (k % 2 === 0) d *= 2;
        sum += d > 9 ? d - 9 : d;
      });
      return String((10 - (sum % 10)) % 10);
    };
    const number = fc.tuple(fc.integer({ min: 11, max: 34 }), fc.nat(10_000), fc.boolean(), fc.constantFrom(0, 1, 2, 3, 4, 5)).map(([n, seed, valid, group]) => {
      const body = `${2 + (seed % 5)}${run(n - 2, "0123456789", seed)}`;
      const check = luhnDigit(body);
      const digits = body + (valid ? check : String((Number(check) + 1 + (seed % 9)) % 10));
      // 0: plain; 1: groups of 4 (space); 2: groups of 4 (dash); 3: single digits (space);
      // 4: groups of 1-3 (dash); 5: plain with a different separator in the middle
      if (group === 1) return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
      if (group === 2) return digits.replace(/(\d{4})(?=\d)/g, "$1-");
      if (group === 3) return digits.split("").join(" ");
      if (group === 4) return digits.match(new RegExp(`.{1,${1 + (seed % 3)}}`, "g"))!.join("-");
      return `${digits.slice(0, 8)}.${digits.slice(8)}`;
    });
    const before = fc.constantFrom("", " ", "0", "12 ", "#", "-", "+", "(", "é", "x");
    const after = fc.constantFrom("", " ", "0", "x", "-1", ".", "é", " 2024-01-15");
    const value = fc.tuple(pad, before, number, after).map((p) => p.join(""));
    fc.assert(
      fc.property(fc.constantFrom<DetectorName[]>(["card"], ["card", "phone", "ssn"], [...DETECTORS]), fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, values, cuts) => {
        agree({ rules: [{ name: "n", detectors, style: "partial", keep: 4 }] }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("phone and card numbers at the early exits' limits (digits spread by single separators)", () => {
    const spread = (digits: string, sep: string) => digits.split("").join(sep);
    const values = [
      ...[7, 8, 9, 15, 16].flatMap((n) => [" ", "-", "."].map((sep) => `+${spread(run(n, "123456789", n), sep)}`)),
      ...[12, 13, 14, 19, 20].flatMap((n) => [" ", "-"].map((sep) => spread(`4${run(n - 1, "0123456789", n)}`, sep))),
      "4 1 1 1 1 1 1 1 1 1 1 1 1", "4-1-1-1-1-1-1-1-1-1-1-1-1", "4111 1111 1111 1", "0123 456 7890", "012 345 678 90", "(415) 555-0100", "(415)555-0100",
      "415-555-0100", "415 555 0100x", "+1 415 555 0100", "+1 (415) 555-0100", "078-05-1120", "2024-01-15 10:00", "v1.2.3 #4521 4111111111111111",
    ];
    for (const detectors of [["phone"], ["card"], [...DETECTORS]] as DetectorName[][]) {
      for (const prefix of ["", "x ", "é", "0123456789abcd "]) {
        agree({ rules: [{ name: "n", detectors, style: "redact" }] }, values.map((v) => prefix + v), [3, 9]);
      }
    }
  });

  it("candidate skip: start bytes after non-ASCII bytes and word bytes, capitals with and without digits, every value length 1..48", () => {
    const pieces = ["é", "日本", "x", "_", " ", "@", "A", "AKIA", "Bearer ", "b", "e", "eyJ", "g", "ghp_", "x", "xoxb-", "$", "-", "+", "(", "0", "42", "DE", "GB82", "zoë", "9", ".", "r ", "ws", "cr"];
    const value = fc.tuple(fc.array(fc.constantFrom(...pieces), { maxLength: 12 }), fc.integer({ min: 1, max: 48 })).map(([ps, n]) => {
      const t = ps.join("");
      return t.length > n ? t.slice(0, n) : t;
    });
    const positives = fc.constantFrom("", " GB82 WEST 1234 5698 7654 32", " AKIA" + "ABCDEFGHIJKLMNOP", " ghp_" + "a".repeat(36), " Bearer abcdefgh123", " a@b.io", " +1 415 555 0100");
    fc.assert(
      fc.property(detectorSets, fc.array(fc.tuple(pad, value, positives, value), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, parts, cuts) => {
        agree({ rules: [{ name: "c", detectors, style: "redact" }] }, parts.map((p) => p.join("")), cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("digit starts in the skip: card, SSN and phone shapes and their near misses, in prose with dates, versions and ids", () => {
    // each shape and variants one digit or separator off it (digit where a separator must be,
    // separator where a digit must be, first digit 0/1/9, one digit short or long)
    const shapes = [
      "415-555-0100", "415.555.0100", "415 555 0100", "4155-555-0100", "415-5550-100", "415-555-010", "415-555-01000", "115-555-0100",
      "015-555-0100", "415-155-0100", "415--555-0100", "415-555-0100-1", "(415) 555-0100", "x(415) 555-0100", "415) 555-0100",
      "0123 456 7890", "01234 567 890", "0 123 456 7890", "012 345 678 90", "00 1234 5678", "0123-456-7890", "01 234 5678 9",
      "078-05-1120", "078-05-112", "078-051-120", "0780-05-1120", "978-05-1120", "078 05 1120", "078-05-11200", "078-05-1120x",
      "4111 1111 1111 1111", "4111111111111111", "4111-1111-1111-1", "411 111 111 111 1", "41111111111", "2221000000000009",
      "7111111111111111", "1111 1111 1111 1111", "4 1 1 1 1 1 1 1 1 1 1 1 1", "4111 1111 1111 111",
      "+1 415 555 0100", "+14155550100", "+1-415-555-010",
    ];
    const prose = ["2024-01-15", "v1.2.3", "#4521", "10:45:00", "order", "id 42", "é", "x", "0", "12", "1234567", "3.14159"];
    const piece = fc.oneof(fc.constantFrom(...shapes), fc.constantFrom(...prose));
    const value = fc.tuple(pad, fc.array(fc.tuple(piece, fc.constantFrom(" ", "-", ".", "", ", ", "/")), { minLength: 1, maxLength: 8 })).map(([p, ps]) => p + ps.map(([a, sep]) => a + sep).join(""));
    const sets = fc.constantFrom<DetectorName[]>(["phone"], ["ssn"], ["card"], ["card", "phone", "ssn"], [...DETECTORS], ["phone", "email", "iban"]);
    fc.assert(
      fc.property(sets, fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, values, cuts) => {
        agree({ rules: [{ name: "n", detectors, style: "partial", keep: 2 }] }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 500) },
    );
  });

  it("AWS secret keys in values of 17+ bytes: keys of 39-41 bytes with '+' and '/', context near and far, at every offset from a block edge", () => {
    const S40 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const key = fc.tuple(fc.integer({ min: 38, max: 42 }), fc.nat(10_000), fc.constantFrom("", "+", "/", "++++", "//")).map(([n, seed, extra]) => {
      // "Ab9+" repeated: every 16-byte chunk of the key holds '+' (0x2B, the class's lowest byte)
      const body = seed % 4 === 0 ? "Ab9+".repeat(11) : `aZ9${extra}${run(n, S40, seed)}`;
      return body.slice(0, n);
    });
    const context = fc.constantFrom("", "aws ", "AWS_SECRET=", "secret: ", "Secret ", "my aws key is ", "sEcReT", "ws cr ");
    const filler = fc.nat(70).map((n) => "lorem ipsum dolor ".repeat(5).slice(0, n));
    const after = fc.constantFrom("", " ", "=", "x", "+", " tail", "é");
    const value = fc.tuple(pad, context, filler, key, after, fc.boolean()).map(([p, c, fl, k, a, swap]) => (swap ? p + k + a + " " + c + fl : p + c + fl + k + a));
    fc.assert(
      fc.property(fc.constantFrom<DetectorName[]>(["aws_secret_key"], ["aws_secret_key", "email", "phone"], [...DETECTORS]), fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, values, cuts) => {
        agree({ rules: [{ name: "k", detectors, style: "redact" }] }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 500) },
    );
  });

  it("rows after a changed row: changed and unchanged runs, output growth mid-row, malformed rows refused as by the reference", () => {
    const cell = fc.constantFrom<string | null>("a@b.io", "plain", "", null, "x a@b.io y", "a@b.io ".repeat(150), "note 2024-01-15", "4111 1111 1111 1111");
    // messages between rows that leave the pending run open (nothing to mask in them) or change
    const between = fc.constantFrom<Uint8Array[]>([], [], [f.notification(1, "ch", "ping")], [f.notification(1, "ch", "to a@b.io")], [new Uint8Array([83, 0, 0, 0, 8, 97, 0, 98, 0])]);
    const malformed = (row: Uint8Array, kind: number): Uint8Array => {
      const bad = row.slice();
      const view = new DataView(bad.buffer);
      if (kind === 0) view.setInt32(7, 0x7fff); // first field's length beyond the message
      else if (kind === 1) view.setInt32(7, -2); // a negative length other than NULL's
      else if (kind === 2) view.setUint16(5, view.getUint16(5) + 1); // one field more than the message holds
      else return f.concat([bad, new Uint8Array([7])]); // a byte after the last field (length word fixed below)
      return bad;
    };
    const fixLength = (m: Uint8Array) => {
      new DataView(m.buffer, m.byteOffset).setUint32(1, m.length - 1);
      return m;
    };
    const rowSpec = fc.tuple(fc.array(cell, { minLength: 3, maxLength: 3 }), fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(3) }), between);
    fc.assert(
      fc.property(fc.constantFrom<"redact" | "partial" | "hash">("hash", "hash", "redact", "partial"), fc.array(rowSpec, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { maxLength: 4 }), (st, rows, cuts) => {
        const cfg: MaskingConfig = { rules: [{ name: "d", detectors: ["email", "card"], style: st }], hashKey: "k".repeat(24) };
        const a = createMasker(wasm, cfg);
        const b = new ReferenceMasker(cfg);
        const msgs = [f.rowDescription([{ name: "a" }, { name: "b" }, { name: "c" }]), ...rows.flatMap(([cells, bad, other]) => [...other, bad < 0 ? f.dataRow(cells) : fixLength(malformed(f.dataRow(cells), bad))])];
        let from = 0;
        for (const cut of [...cuts.map((c) => 1 + (c % msgs.length)), msgs.length].sort((x, y) => x - y)) {
          if (cut <= from) continue;
          const batch = f.concat(msgs.slice(from, cut));
          from = cut;
          let want: Uint8Array;
          try {
            want = b.process(batch);
          } catch {
            expect(() => a.process(batch)).toThrow(MaskingError); // refused by both: the session ends here
            return;
          }
          expect(hex(a.process(batch))).toBe(hex(want));
        }
        expect(a.counts()).toEqual(b.counts());
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });

  it("e-mail domains: dots at every offset from a block edge, double dots across it, long domains, bad TLDs", () => {
    const label = fc.tuple(fc.integer({ min: 1, max: 20 }), fc.nat(1000)).map(([n, seed]) => run(n, "abcdefghij0123456789-", seed).replace(/^-/, "a"));
    const tld = fc.constantFrom("io", "com", "c", "c0m", "co.uk", "x.", "", "museum");
    const domain = fc.tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.constantFrom(".", ".", ".", ".."), tld).map(([ls, dot, t]) => ls.join(dot) + (t ? `.${t}` : ""));
    const value = fc.tuple(pad, fc.constantFrom("a", "john.doe", "x_y"), domain, fc.constantFrom("", " ", ".", "..", "-", "é", "_x")).map(([p, l, d, t]) => `${p}${l}@${d}${t}`);
    fc.assert(
      fc.property(fc.constantFrom<DetectorName[]>(["email"], [...DETECTORS]), fc.array(value, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 3 }), (detectors, values, cuts) => {
        agree({ rules: [{ name: "e", detectors, style: "partial", keep: 2 }] }, values, cuts);
      }),
      { numRuns: Number(process.env.MASK_RUNS ?? 400) },
    );
  });
});
