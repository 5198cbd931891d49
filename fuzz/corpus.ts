/**
 * Seed corpora: fuzz/corpus/<codec>/*.{bin,hex,txt} — real captures (fuzz/capture.ts) and real
 * texts (policies, SQL, command lines). .hex files are hex digits (whitespace and #-comments ignored).
 */
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hexToBytes } from "../parsers/encoding/hex-base64.ts";

export const FUZZ_DIR = fileURLToPath(new URL(".", import.meta.url));
export const CORPUS_DIR = join(FUZZ_DIR, "corpus");
export const CRASH_DIR = join(FUZZ_DIR, "crashes");

/** Reads one input file: .hex as hex text, anything else as raw bytes. */
export function readInputFile(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (!path.endsWith(".hex")) return new Uint8Array(raw);
  const text = raw.toString("utf8").replace(/#[^\n]*/g, "").replace(/\s+/g, "");
  return hexToBytes(text);
}

export function loadCorpus(codec: string): Uint8Array[] {
  const dir = join(CORPUS_DIR, codec);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(bin|hex|txt)$/.test(f))
    .sort()
    .map((f) => readInputFile(join(dir, f)));
}
