// PostgreSQL SQL classifier (WASM entry). JS owns the arena above arenaBase(): it writes the
// UTF-8 query text, the dangerous-function list and room for the result tables there, then calls
// classify(). See wasm/assembly/sql/ for the lexer and classifier, wasm/loader/sql.ts for the
// JS side and docs/SQL-CLASSIFIER.md for the decisions.

import { classifyAll, setFunctionList, keywordOf } from "./sql/classify";

/** First byte JS may use: everything below belongs to this module's static data. */
export function arenaBase(): usize {
  return (__heap_base + 15) & ~(<usize>15);
}

/**
 * list: lower-case function names separated by "\n" (a trailing `*` makes a prefix).
 * options bit 0: standard_conforming_strings OFF.
 * Returns the statement count, -1 (statement table full) or -2 (function table full).
 */
export function classify(
  input: usize, len: i32, list: usize, listLen: i32, options: i32,
  out: usize, outCap: i32, fns: usize, fnCap: i32,
): i32 {
  setFunctionList(list, listLen);
  return classifyAll(input, len, (options & 1) == 0, out, outCap, fns, fnCap);
}

/** Test hook: keyword id (see sql/keywords.ts) of the identifier at [ptr, ptr+len), 0 if none. */
export function kwLookup(ptr: usize, len: i32): i32 {
  return keywordOf(ptr, len);
}
