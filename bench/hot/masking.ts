/**
 * Masking hot path in isolation: the WASM masker (wasm/loader/mask.ts createMasker) vs a JS
 * reference (pg-protocol Parser + one combined JS regex per field) over the same realistic
 * DataRow bytes, fed in ≤ 1 MiB batches of complete messages (the tunnel's frame size).
 * Used by bench/run.ts and by the standalone bench/masking.ts.
 */
import { Parser } from "pg-protocol/dist/parser.js";
import { createMasker } from "../../wasm/loader/mask.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import type { MaskingConfig } from "../../parsers/masking/config.ts";
import * as f from "../../parsers/masking/fixtures.ts";

const BATCH = 1 << 20;

export interface MaskingInput {
  bytes: Uint8Array;
  /** Runs of complete messages, each ≤ 1 MiB. */
  batches: Uint8Array[];
  rows: number;
}

/** Deterministic customers-like DataRows (id, name, email, card_number, password_hash, api_token, created_at, note) of about `targetMB` MB. */
export function buildMaskingInput(targetMB: number): MaskingInput {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10)).join("");
  const alnum = (n: number) => Array.from({ length: n }, () => pick([..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"])).join("");
  const luhnCard = (): string => {
    const body = "4" + digits(14);
    let sum = 0;
    [...body].reverse().forEach((ch, k) => {
      let d = Number(ch);
      if (k % 2 === 0) d *= 2;
      if (d > 9) d -= 9;
      sum += d;
    });
    return body + ((10 - (sum % 10)) % 10);
  };
  const FIRST = ["Ann", "Bob", "Zoë", "José", "Li", "Fatima", "Oleg", "Mariam", "Chloé", "Kenji"];
  const LAST = ["Lee", "Smith", "Ångström", "García", "Nguyen", "Kowalski", "Müller", "O'Brien"];
  const WORDS = ["order", "shipped", "to", "customer", "via", "support", "ticket", "refund", "requested", "on", "the", "invoice", "né", "über", "déjà", "vu", "2024-01-15", "v1.2.3", "#4521", "status:", "ok"];
  const note = (): string => {
    const parts: string[] = [];
    const n = 6 + Math.floor(rnd() * 20);
    for (let k = 0; k < n; k++) {
      const r = rnd();
      if (r < 0.03) parts.push(`${pick(FIRST).toLowerCase()}@example.com`);
      else if (r < 0.05) parts.push(`+1 415 555 ${digits(4)}`);
      else if (r < 0.06) parts.push(luhnCard());
      else parts.push(pick(WORDS));
    }
    return parts.join(" ");
  };

  const head = f.rowDescription([
    { name: "id", typeOid: 23 }, { name: "name" }, { name: "email" }, { name: "card_number" }, { name: "password_hash" },
    { name: "api_token" }, { name: "created_at", typeOid: 1184 }, { name: "note" },
  ]);
  const chunks: Uint8Array[] = [head];
  let size = head.length;
  let rows = 0;
  while (size < targetMB * 1e6) {
    const first = pick(FIRST);
    const row = f.dataRow([
      String(rows + 1),
      `${first} ${pick(LAST)}`,
      `${first.toLowerCase()}.${alnum(5).toLowerCase()}@example.com`,
      rnd() < 0.5 ? luhnCard() : luhnCard().replace(/(\d{4})(?=\d)/g, "$1 "),
      `$2b$12$${alnum(53)}`,
      rnd() < 0.5 ? `ghp_${alnum(36)}` : `glpat-${alnum(20)}`,
      `2024-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)} 10:${10 + Math.floor(rnd() * 49)}:00+00`,
      note(),
    ]);
    chunks.push(row);
    size += row.length;
    rows++;
  }
  const bytes = f.concat(chunks);
  return { bytes, batches: splitBatches(bytes), rows };
}

/** Split a buffer of complete PostgreSQL backend messages into runs of ≤ 1 MiB. */
export function splitBatches(bytes: Uint8Array): Uint8Array[] {
  const batches: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let start = 0;
  let o = 0;
  while (o < bytes.length) {
    const next = o + 1 + view.getUint32(o + 1);
    if (next - start > BATCH) {
      batches.push(bytes.subarray(start, o));
      start = o;
    }
    o = next;
  }
  batches.push(bytes.subarray(start));
  return batches;
}

/** JS reference: a combined regex of the same detector families (no Luhn/IBAN checksums — generous to JS). */
export const JS_REFERENCE_REGEX = new RegExp(
  [
    "-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\\s\\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----",
    "\\$(?:2[abxy]\\$\\d\\d\\$[./A-Za-z0-9]{53}|argon2(?:id|i|d)\\$[A-Za-z0-9./+=,$]{20,}|scrypt\\$[A-Za-z0-9./+=,$]{20,}|[576y]\\$[A-Za-z0-9./+=,$]{20,})",
    "\\beyJ[A-Za-z0-9_-]{7,}\\.[A-Za-z0-9_-]{2,}\\.[A-Za-z0-9_-]*",
    "\\bgh[psoru]_[A-Za-z0-9]{36,}\\b|\\bgithub_pat_\\w{22,}",
    "\\bglpat-[A-Za-z0-9_-]{20,}",
    "\\bxox[abpr]-[A-Za-z0-9-]{10,}",
    "\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b",
    "(?<=\\b[Bb]earer +)[A-Za-z0-9._~+/=-]{8,}",
    "\\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",
    "\\b[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b",
    "\\b[2-6]\\d{3}(?:[ -]?\\d{4}){2}[ -]?\\d{1,7}\\b",
    "\\b\\d{3}-\\d{2}-\\d{4}\\b",
    "\\+[1-9](?:[ .-]?\\d){7,14}\\b|\\(?\\b[2-9]\\d\\d\\)?[ .-]?[2-9]\\d\\d[ .-]\\d{4}\\b",
  ].join("|"),
  "g",
);

/** The JS reference over all batches; returns the number of matches. */
export function runJsReference(batches: Uint8Array[]): number {
  const parser = new Parser();
  let hits = 0;
  for (const b of batches) {
    parser.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength), (msg) => {
      if (msg.name !== "dataRow") return;
      for (const v of (msg as unknown as { fields: (string | null)[] }).fields) {
        if (v === null) continue;
        const masked = v.replace(JS_REFERENCE_REGEX, () => {
          hits++;
          return "[REDACTED]";
        });
        if (masked.length < 0) throw new Error("unreachable");
      }
    });
  }
  return hits;
}

export const DETECTORS_ONLY: MaskingConfig = { rules: [{ name: "all", detectors: ["all"], style: "redact" }] };
export const TYPICAL_RULES: MaskingConfig = {
  rules: [
    { name: "credentials", columns: ["*password*", "api_token"], style: "redact" },
    { name: "email", columns: ["email"], style: "hash" },
    { name: "cards", columns: ["card_number"], style: "partial" },
    { name: "content", detectors: ["all"], style: "redact" },
  ],
  hashKey: "bench-tenant-key-0123456789",
};

/** A fresh WASM masker with `config`, run over all batches. */
export function wasmMaskerRunner(config: MaskingConfig, batches: Uint8Array[]): () => void {
  const module = loadWasmModule("mask");
  return () => {
    const m = createMasker(module, config);
    let out = 0;
    for (const b of batches) out += m.process(b).length;
    if (out === 0) throw new Error("no output");
  };
}

export interface Contender {
  name: string;
  run: () => unknown;
}
export interface ContenderResult {
  name: string;
  seconds: number;
  mbPerSecond: number;
}

/**
 * Interleave contenders `rounds` times so machine noise hits all alike; keep each one's best time.
 * `clock: "cpu"` times this process's CPU (user + system, all its threads) instead of the wall
 * clock: on a shared machine under load the wall clock also counts the time other processes hold
 * the core, which best-of-3 does not remove (bench/hot/mask-race.ts --cpu).
 */
export function race(contenders: Contender[], megabytes: number, rounds = 3, clock: "wall" | "cpu" = "wall"): ContenderResult[] {
  const best = contenders.map(() => Infinity);
  const now = clock === "cpu" ? () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; } : () => performance.now();
  for (let round = 0; round < rounds; round++) {
    contenders.forEach((c, k) => {
      const t0 = now();
      c.run();
      best[k] = Math.min(best[k]!, (now() - t0) / 1000);
    });
  }
  return contenders.map((c, k) => ({ name: c.name, seconds: best[k]!, mbPerSecond: megabytes / best[k]! }));
}

/**
 * The same masker with its output borrowed (processView: a view of WASM memory, no fresh array
 * per batch) — not what the PostgreSQL engine calls today; it shows how much of process() is
 * handing the output over (docs/MASKING.md, Performance).
 */
export function wasmMaskerViewRunner(config: MaskingConfig, batches: Uint8Array[]): () => void {
  const module = loadWasmModule("mask");
  return () => {
    const m = createMasker(module, config);
    let out = 0;
    for (const b of batches) out += m.processView(b).length;
    if (out === 0) throw new Error("no output");
  };
}

/** The masking race of bench/masking.ts: JS reference, WASM detectors-only, WASM typical column rules, detectors-only with borrowed output. */
export function benchMasking(targetMB: number, rounds = 3): { input: MaskingInput; results: ContenderResult[] } {
  const input = buildMaskingInput(targetMB);
  const contenders: Contender[] = [
    { name: "JS reference: pg-protocol Parser + one JS regex per field", run: () => runJsReference(input.batches) },
    { name: "WASM masker, all detectors on every value", run: wasmMaskerRunner(DETECTORS_ONLY, input.batches) },
    { name: "WASM masker, column rules (hash/partial/redact) + all detectors", run: wasmMaskerRunner(TYPICAL_RULES, input.batches) },
    { name: "WASM masker, all detectors, output borrowed (processView, not the engine's call)", run: wasmMaskerViewRunner(DETECTORS_ONLY, input.batches) },
  ];
  // warm up (JIT, WASM tier-up)
  contenders[1]!.run();
  runJsReference(input.batches.slice(0, 8));
  return { input, results: race(contenders, input.bytes.length / 1e6, rounds) };
}
