/** The WASM modules the worker uses, compiled by wrangler's bundler at deploy time (never at runtime). */
import pgframe from "../wasm/build/pgframe.wasm";
import sql from "../wasm/build/sql.wasm";
import mask from "../wasm/build/mask.wasm";
import { createSqlClassifier } from "../wasm/loader/sql.ts";
import type { SqlClassifier } from "../parsers/sql/types.ts";

export const pgFramerModule: WebAssembly.Module = pgframe;
export const sqlModule: WebAssembly.Module = sql;
export const maskModule: WebAssembly.Module = mask;

let classifier: SqlClassifier | undefined;
/** One classifier instance per isolate: classification is synchronous and stateless between calls. */
export function sqlClassifier(): SqlClassifier {
  classifier ??= createSqlClassifier(sqlModule);
  return classifier;
}
