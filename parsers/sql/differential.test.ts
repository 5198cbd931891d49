/**
 * Differential test: the WASM classifier against the real PostgreSQL parser (libpg-query, PG 18).
 *
 * Inputs: the hand-written corpus in parsers/sql/corpus/*.sql (cases separated by blank lines; a
 * case may hold several statements) plus deterministic, seeded variations of each case (keyword
 * case, whitespace and comments between tokens, identifier quoting, literal quoting styles,
 * multi-statement concatenation). Every input must parse with libpg-query; inputs it rejects are
 * skipped (variations only — a corpus case that does not parse fails the test).
 *
 * For every input: our statement count must equal PostgreSQL's and each statement's kind must
 * equal referenceKind(AST). A statement PostgreSQL sees as anything but a read that we call `read`
 * FAILS the test; other disagreements are counted and the overall agreement must be >= 97%.
 */
import { describe, it, expect, beforeAll } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { loadModule, parseSync, scanSync } from "libpg-query";
import { createSqlClassifier } from "../../wasm/loader/sql.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { DEFAULT_DANGEROUS_FUNCTIONS } from "./dangerous-functions.ts";
import type { StatementKind } from "./types.ts";

type Node = Record<string, unknown>;

// ---- reference: libpg-query AST node -> StatementKind (the policy this classifier implements) ----

/** Mirrors WRITER_LIST in wasm/assembly/sql/classify.ts: calls that modify data make a read a write. */
const WRITERS = [
  "nextval", "setval", "lowrite", "lo_*", "dblink*", "pg_stat_reset*", "pg_create_*", "pg_drop_*", "pg_logical_*",
  "pg_replication_*", "pg_file_*", "pg_switch_*", "pg_import_*", "pg_promote", "pg_wal_replay_*", "pg_backup_*",
  "pg_sequence_*", "pg_advisory_*", "pg_try_advisory_*",
];
const matches = (list: readonly string[], name: string): boolean =>
  list.some((p) => (p.endsWith("*") ? name.startsWith(p.slice(0, -1)) : name === p));

const DDL_TYPES = new Set([
  "CreateStmt", "AlterTableStmt", "IndexStmt", "ViewStmt", "CreateSeqStmt", "AlterSeqStmt", "CreateFunctionStmt",
  "AlterFunctionStmt", "DropStmt", "TruncateStmt", "CommentStmt", "ReindexStmt", "VacuumStmt", "ClusterStmt",
  "RenameStmt", "AlterObjectSchemaStmt", "CreateExtensionStmt", "AlterExtensionStmt", "AlterExtensionContentsStmt",
  "CreateTrigStmt", "CreateEventTrigStmt", "AlterEventTrigStmt", "RuleStmt", "CompositeTypeStmt", "CreateEnumStmt",
  "AlterEnumStmt", "CreateRangeStmt", "CreateDomainStmt", "AlterDomainStmt", "DefineStmt", "CreateSchemaStmt",
  "CreatedbStmt", "AlterDatabaseStmt", "AlterDatabaseSetStmt", "AlterDatabaseRefreshCollStmt", "DropdbStmt",
  "CreateTableSpaceStmt", "DropTableSpaceStmt", "AlterTableSpaceOptionsStmt", "AlterTableMoveAllStmt",
  "CreateForeignServerStmt", "AlterForeignServerStmt", "CreateForeignTableStmt", "CreateFdwStmt", "AlterFdwStmt",
  "ImportForeignSchemaStmt", "CreatePublicationStmt", "AlterPublicationStmt", "CreateSubscriptionStmt",
  "AlterSubscriptionStmt", "DropSubscriptionStmt", "CreateCastStmt", "CreateConversionStmt", "CreateOpClassStmt",
  "CreateOpFamilyStmt", "AlterOpFamilyStmt", "AlterOperatorStmt", "AlterTypeStmt", "CreatePLangStmt",
  "CreateTransformStmt", "CreateAmStmt", "CreateStatsStmt", "AlterStatsStmt", "AlterCollationStmt",
  "AlterTSDictionaryStmt", "AlterTSConfigurationStmt", "AlterSystemStmt", "AlterObjectDependsStmt",
]);
const PRIVILEGE_TYPES = new Set([
  "GrantStmt", "GrantRoleStmt", "CreateRoleStmt", "AlterRoleStmt", "AlterRoleSetStmt", "DropRoleStmt",
  "AlterDefaultPrivilegesStmt", "SecLabelStmt", "ReassignOwnedStmt", "DropOwnedStmt", "AlterOwnerStmt",
  "CreateUserMappingStmt", "AlterUserMappingStmt", "DropUserMappingStmt", "CreatePolicyStmt", "AlterPolicyStmt",
]);
const SESSION_TYPES = new Set([
  "DeallocateStmt", "ListenStmt", "UnlistenStmt", "NotifyStmt", "ClosePortalStmt", "FetchStmt", "CheckPointStmt",
]);
const PROCEDURAL_TYPES = new Set(["DoStmt", "CallStmt", "PrepareStmt", "ExecuteStmt", "LoadStmt"]);

function nodeType(n: unknown): [string, Node] {
  const [type, body] = Object.entries(n as Node)[0]!;
  return [type, body as Node];
}

/** Visits every node (object value under a PascalCase key) below `n`. */
function walk(n: unknown, visit: (type: string, body: Node) => void): void {
  if (Array.isArray(n)) {
    for (const x of n) walk(x, visit);
  } else if (n && typeof n === "object") {
    for (const [k, v] of Object.entries(n as Node)) {
      if (/^[A-Z]/.test(k) && v && typeof v === "object" && !Array.isArray(v)) visit(k, v as Node);
      walk(v, visit);
    }
  }
}

interface Facts {
  dml: boolean;
  lock: boolean;
  writerCall: boolean;
  roleSetConfig: boolean;
  dangerous: string[];
}

function facts(n: unknown): Facts {
  const f: Facts = { dml: false, lock: false, writerCall: false, roleSetConfig: false, dangerous: [] };
  walk(n, (type, body) => {
    if (type === "InsertStmt" || type === "UpdateStmt" || type === "DeleteStmt" || type === "MergeStmt") f.dml = true;
    if (type === "LockingClause") f.lock = true;
    if (type === "FuncCall") {
      const names = (body.funcname as Node[]).map((s) => ((s.String as Node).sval as string));
      const name = names[names.length - 1]!;
      if (matches(WRITERS, name)) f.writerCall = true;
      if (matches(DEFAULT_DANGEROUS_FUNCTIONS, name)) f.dangerous.push(name);
      if (name === "set_config") {
        const first = (body.args as Node[] | undefined)?.[0];
        const sval = first && "A_Const" in first ? (((first.A_Const as Node).sval as Node | undefined)?.sval as string | undefined) : undefined;
        if (sval === undefined || ["role", "session_authorization"].includes(sval.toLowerCase())) f.roleSetConfig = true;
      }
    }
  });
  return f;
}

function adjust(kind: StatementKind, f: Facts): StatementKind {
  if (f.writerCall && kind === "read") kind = "write";
  if (f.roleSetConfig && (kind === "read" || kind === "write")) kind = "privilege";
  return kind;
}

function queryKind(stmt: unknown): StatementKind {
  const [type, body] = nodeType(stmt);
  const f = facts(stmt);
  if (type === "SelectStmt") {
    let kind: StatementKind = "read";
    if (body.intoClause || f.dml || f.lock) kind = "write";
    return adjust(kind, f);
  }
  return referenceKind(stmt);
}

function isTrue(arg: unknown): boolean {
  if (!arg) return true;
  const [type, body] = nodeType(arg);
  if (type === "String") return !["false", "off"].includes(String(body.sval).toLowerCase());
  if (type === "Integer") return body.ival !== undefined && body.ival !== 0;
  if (type === "Boolean") return body.boolval === true;
  return true;
}

export function referenceKind(stmt: unknown): StatementKind {
  const [type, body] = nodeType(stmt);
  const f = facts(stmt);
  switch (type) {
    case "SelectStmt":
      return queryKind(stmt);
    case "InsertStmt": case "UpdateStmt": case "DeleteStmt": case "MergeStmt":
      return adjust("write", f);
    case "ExplainStmt": {
      let analyze = false;
      for (const o of (body.options as Node[] | undefined) ?? []) {
        const d = o.DefElem as Node;
        if (d.defname === "analyze") analyze = isTrue(d.arg);
      }
      return analyze ? referenceKind(body.query) : "read";
    }
    case "CopyStmt":
      if (body.is_program || body.filename) return "copy_external";
      if (body.is_from) return adjust("write", f);
      return body.query ? queryKind(body.query) : adjust("read", f);
    case "CreateTableAsStmt":
      return body.objtype === "OBJECT_MATVIEW" ? "ddl" : adjust("write", f);
    case "RefreshMatViewStmt":
      return "write";
    case "LockStmt":
      return "write";
    case "DeclareCursorStmt":
      return queryKind(body.query);
    case "VariableShowStmt":
      return "read";
    case "VariableSetStmt": {
      const name = String(body.name ?? "").toLowerCase();
      if (body.kind === "VAR_RESET_ALL" || name === "role" || name === "session_authorization") return "privilege";
      if (["transaction", "transaction snapshot", "session characteristics"].includes(name)) return "transaction";
      return "session";
    }
    case "DiscardStmt":
      return body.target === "DISCARD_ALL" ? "privilege" : "session";
    case "TransactionStmt": case "ConstraintsSetStmt":
      return "transaction";
    case "AlterTableStmt":
      return JSON.stringify(body.cmds ?? []).includes("AT_ChangeOwner") ? "privilege" : "ddl";
    case "DropStmt":
      return body.removeType === "OBJECT_POLICY" ? "privilege" : "ddl";
    case "RenameStmt":
      return ["OBJECT_ROLE", "OBJECT_POLICY"].includes(body.renameType as string) ? "privilege" : "ddl";
    case "CreateSchemaStmt":
      return body.authrole || JSON.stringify(body.schemaElts ?? []).includes('"GrantStmt"') ? "privilege" : "ddl";
    case "CreatedbStmt":
      return JSON.stringify(body.options ?? []).includes('"defname":"owner"') ? "privilege" : "ddl";
  }
  if (PRIVILEGE_TYPES.has(type)) return "privilege";
  if (DDL_TYPES.has(type)) return "ddl";
  if (SESSION_TYPES.has(type)) return "session";
  if (PROCEDURAL_TYPES.has(type)) return "procedural";
  throw new Error(`referenceKind: no mapping for ${type}`);
}

// ---- corpus and variations ----

export function loadCorpus(): Array<{ file: string; sql: string }> {
  const dir = fileURLToPath(new URL("./corpus/", import.meta.url));
  const cases: Array<{ file: string; sql: string }> = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const text = readFileSync(join(dir, file), "utf8").replace(/\r\n/g, "\n");
    for (const block of text.split(/\n[ \t]*\n/)) {
      const sql = block.trim();
      // a block of only comments is a note for the reader, not a case
      if (sql && !sql.split("\n").every((l) => l.trim().startsWith("--"))) cases.push({ file, sql });
    }
  }
  return cases;
}

/** Mulberry32: small, fast, deterministic. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GAPS = [" ", "  ", "\n", "\t", " /* c */ ", "/**/", " /* a /* nested */ b */ ", " -- line comment\n", "\n\n  ", "\r\n", " /* ; */ ", " -- ; DROP TABLE x\n"];

type Token = { start: number; end: number; text: string; tokenName: string; keywordKind: number };

/** One variation of `sql`, rebuilt token by token (byte offsets from libpg-query's scanner). */
function vary(sql: string, rand: () => number, style: number): string {
  const bytes = Buffer.from(sql, "utf8");
  let tokens: Token[];
  try {
    tokens = scanSync(sql).tokens as Token[];
  } catch {
    return sql;
  }
  let out = "";
  let last = 0;
  for (const t of tokens) {
    let gap = bytes.subarray(last, t.start).toString("utf8");
    let text = bytes.subarray(t.start, t.end).toString("utf8");
    if (t.tokenName === "SQL_COMMENT" || t.tokenName === "C_COMMENT") {
      out += gap + text;
      last = t.end;
      continue;
    }
    if (style === 0 && gap.length > 0) gap = GAPS[Math.floor(rand() * GAPS.length)]!;
    if (style === 1 && t.keywordKind > 0 && /^[a-z_]+$/i.test(text)) {
      const r = rand();
      text = r < 0.33 ? text.toUpperCase() : r < 0.66 ? text.toLowerCase() : [...text].map((c) => (rand() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join("");
    }
    if (style === 2 && t.tokenName === "IDENT" && /^[a-z_][a-z0-9_]*$/.test(text) && rand() < 0.7) text = `"${text}"`;
    if (style === 3 && t.tokenName === "SCONST" && /^'[^'\\$]*'$/.test(text)) {
      const body = text.slice(1, -1);
      const r = rand();
      text = r < 0.3 ? `$$${body}$$` : r < 0.6 ? `$q_1$${body}$q_1$` : r < 0.8 ? `E'${body}'` : `'${body.slice(0, 1)}'\n  '${body.slice(1)}'`;
    }
    if (style === 3 && gap.length > 0 && rand() < 0.3) gap = GAPS[Math.floor(rand() * GAPS.length)]!;
    out += gap + text;
    last = t.end;
  }
  return out + bytes.subarray(last).toString("utf8");
}

// ---- the test ----

interface Tally {
  inputs: number;
  statements: number;
  agree: number;
  skipped: number;
  byDisagreement: Map<string, number>;
  examples: string[];
  unsafe: string[];
}

describe("SQL classifier vs libpg-query (PostgreSQL 18 parser)", () => {
  const classifier = createSqlClassifier(loadWasmModule("sql"));
  beforeAll(async () => {
    await loadModule();
  });

  function check(sql: string, tally: Tally, mustParse: boolean, where: string): void {
    let stmts: Array<{ stmt: unknown; stmt_location?: number; stmt_len?: number }>;
    try {
      stmts = (parseSync(sql).stmts ?? []) as typeof stmts;
    } catch (err) {
      if (mustParse) throw new Error(`${where}: libpg-query rejects a corpus case: ${(err as Error).message}\n${sql}`);
      tally.skipped++;
      return;
    }
    const expected = stmts.map((s) => referenceKind(s.stmt));
    const ours = classifier.classify(sql);
    tally.inputs++;
    const bytes = Buffer.from(sql, "utf8");
    const byteOf = (utf16: number): number => Buffer.byteLength(sql.slice(0, utf16), "utf8");
    // align by position: each PostgreSQL statement against the statement of ours that covers its start
    for (let i = 0; i < stmts.length; i++) {
      tally.statements++;
      const loc = stmts[i]!.stmt_location ?? 0;
      const len = stmts[i]!.stmt_len ?? bytes.length - loc;
      let mine = ours.find((o) => byteOf(o.start) <= loc + len && byteOf(o.end) > loc);
      const sameSplit = ours.length === stmts.length;
      if (sameSplit) mine = ours[i];
      const got = mine?.kind ?? "(none)";
      if (got === "read" && expected[i] !== "read") {
        tally.unsafe.push(`${where}: PostgreSQL sees ${expected[i]}, we say read:\n${sql}`);
      }
      if (sameSplit && got === expected[i]) {
        tally.agree++;
      } else {
        const key = sameSplit ? `${expected[i]} -> ${got}` : `split ${stmts.length} -> ${ours.length}`;
        tally.byDisagreement.set(key, (tally.byDisagreement.get(key) ?? 0) + 1);
        if (tally.examples.length < 60) tally.examples.push(`[${key}] ${where}: ${sql.slice(0, 300).replace(/\s+/g, " ")}`);
      }
    }
  }

  it("agrees with PostgreSQL on splitting and kind (>= 97%), and never calls a non-read `read`", () => {
    const corpus = loadCorpus();
    const tally: Tally = { inputs: 0, statements: 0, agree: 0, skipped: 0, byDisagreement: new Map(), examples: [], unsafe: [] };
    const rand = rng(0x5eed_2026);
    for (const [n, c] of corpus.entries()) {
      const where = `${c.file}#${n}`;
      check(c.sql, tally, true, where);
      for (let style = 0; style < 4; style++) check(vary(c.sql, rand, style), tally, false, `${where}/v${style}`);
    }
    // multi-statement simple queries: random cases joined with `;` and odd whitespace/comments
    for (let i = 0; i < 300; i++) {
      const parts: string[] = [];
      const k = 2 + Math.floor(rand() * 3);
      for (let j = 0; j < k; j++) parts.push(corpus[Math.floor(rand() * corpus.length)]!.sql.replace(/;\s*$/, ""));
      const sep = () => [";", ";\n", " ; ", ";/* x */", "; -- c\n", ";;", "\n;\n"][Math.floor(rand() * 7)]!;
      check(parts.join(sep()) + (rand() < 0.5 ? ";" : ""), tally, false, `joined#${i}`);
    }
    const rate = tally.agree / tally.statements;
    const summary = [
      `corpus cases: ${corpus.length}, inputs checked: ${tally.inputs} (variations rejected by PostgreSQL: ${tally.skipped})`,
      `statements: ${tally.statements}, agreeing: ${tally.agree}, agreement: ${(rate * 100).toFixed(2)}%`,
      ...[...tally.byDisagreement.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k}: ${v}`),
      ...tally.examples.slice(0, 40),
    ].join("\n");
    console.log(summary);
    expect(tally.unsafe, tally.unsafe.slice(0, 10).join("\n\n")).toEqual([]);
    expect(tally.statements).toBeGreaterThanOrEqual(2000);
    expect(rate).toBeGreaterThanOrEqual(0.97);
  });

  it("lexical fuzz: random quoting/comment soup around stacked statements splits exactly like PostgreSQL", () => {
    const rand = rng(0xf22);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const bits = ["'", "''", "\\", "\\'", "$", "$$", "$a$", "$1", ";", "--", "/*", "*/", "\n", "x", "E'", "U&'", '"', '""', " ", "\r", "e"];
    const payload = () => Array.from({ length: Math.floor(rand() * 7) }, () => pick(bits)).join("");
    const literal = () => {
      const p = payload();
      return pick([`'${p}'`, `E'${p}'`, `$$${p}$$`, `$a$${p}$a$`, `U&'${p}'`, `B'${p}'`, `"${p}"`, `/*${p}*/`, `--${p}\n`, `'${p}'\n'${payload()}'`, `E'${p}'\n'${payload()}'`, p]);
    };
    const templates = [
      () => `SELECT ${literal()}; DELETE FROM t WHERE a = ${literal()}`,
      () => `SELECT 1 ${literal()}; DROP TABLE x; SELECT ${literal()}`,
      () => `SELECT ${literal()} AS a, ${literal()} AS b; UPDATE t SET a = 1`,
      () => `${literal()} SELECT ${literal()}; ${literal()} GRANT ALL ON t TO u`,
      () => `INSERT INTO t VALUES (${literal()}); SELECT ${literal()}`,
      () => `CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT ${literal()}; END; DELETE FROM t`,
    ];
    const tally: Tally = { inputs: 0, statements: 0, agree: 0, skipped: 0, byDisagreement: new Map(), examples: [], unsafe: [] };
    for (let i = 0; i < 20_000; i++) check(pick(templates)(), tally, false, `fuzz#${i}`);
    console.log(
      `lexical fuzz: ${tally.inputs} inputs PostgreSQL accepts (${tally.skipped} rejected), ${tally.statements} statements, ` +
        `agreement ${((tally.agree / tally.statements) * 100).toFixed(2)}%`,
      [...tally.byDisagreement.entries()],
      tally.examples.slice(0, 10),
    );
    expect(tally.unsafe, tally.unsafe.slice(0, 10).join("\n\n")).toEqual([]);
    expect(tally.inputs).toBeGreaterThan(2_000);
    expect(tally.agree / tally.statements).toBeGreaterThanOrEqual(0.97);
  });
});
