/**
 * D1 and R2 as the worker uses them (prepare/bind/first/all/run/batch; put/get/list/delete),
 * backed by the SelfHostStore Durable Object (store-object.ts). Only the surface the worker
 * calls is provided; anything else throws, so a new use is noticed instead of misbehaving.
 */
import type { SelfHostStore, SqlValue } from "./store-object.ts";

/**
 * Returns the store's stub. Called per operation: a stub is an I/O object of the request that
 * made it, while these adapters outlive requests (cached per env, index.ts).
 */
type StoreStub = () => DurableObjectStub<SelfHostStore>;

function toSql(value: unknown): SqlValue {
  if (value === undefined) throw new TypeError("D1_TYPE_ERROR: undefined cannot be bound");
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof Uint8Array) return value.slice().buffer;
  return value as SqlValue;
}

class Statement {
  constructor(
    private readonly store: StoreStub,
    readonly sql: string,
    readonly params: SqlValue[] = [],
  ) {}

  bind(...values: unknown[]): Statement {
    return new Statement(this.store, this.sql, values.map(toSql));
  }

  async first<T>(column?: string): Promise<T | null> {
    const { rows } = await this.store().query(this.sql, this.params);
    const row = rows[0];
    if (!row) return null;
    return (column === undefined ? row : row[column]) as T;
  }

  async all<T>(): Promise<{ results: T[]; success: true; meta: Record<string, number> }> {
    const r = await this.store().query(this.sql, this.params);
    return { results: r.rows as T[], success: true, meta: { changes: r.changes, last_row_id: r.lastRowId } };
  }

  async run(): Promise<{ results: unknown[]; success: true; meta: Record<string, number> }> {
    return this.all();
  }

  async raw(): Promise<never> {
    throw new Error("self-hosted D1: raw() is not provided");
  }
}

export class SelfHostD1 {
  constructor(private readonly store: StoreStub) {}

  prepare(sql: string): Statement {
    return new Statement(this.store, sql);
  }

  async batch(statements: Statement[]): Promise<Array<{ results: unknown[]; success: true; meta: Record<string, number> }>> {
    const results = await this.store().batch(statements.map((s) => ({ sql: s.sql, params: s.params })));
    return results.map((r) => ({ results: r.rows, success: true as const, meta: { changes: r.changes, last_row_id: r.lastRowId } }));
  }

  /** D1's exec: a script of statements without parameters (schema creation). */
  async exec(script: string): Promise<{ count: number; duration: number }> {
    const statements = script.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter(Boolean);
    await this.store().batch(statements.map((sql) => ({ sql, params: [] })));
    return { count: statements.length, duration: 0 };
  }
}

async function bodyBytes(body: unknown): Promise<ArrayBuffer> {
  if (typeof body === "string") return new TextEncoder().encode(body).buffer as ArrayBuffer;
  if (body instanceof ArrayBuffer) return body;
  if (ArrayBuffer.isView(body)) return body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
  if (body instanceof ReadableStream) return new Response(body).arrayBuffer();
  if (body === null) return new ArrayBuffer(0);
  throw new TypeError("self-hosted R2: unsupported body type");
}

export class SelfHostR2 {
  constructor(private readonly store: StoreStub) {}

  async put(key: string, body: unknown, options: { httpMetadata?: { contentType?: string }; customMetadata?: Record<string, string> } = {}) {
    const bytes = await bodyBytes(body);
    const uploaded = await this.store().putObject(key, bytes, options.httpMetadata?.contentType ?? null, options.customMetadata ?? {});
    return { key, size: bytes.byteLength, uploaded: new Date(uploaded), customMetadata: options.customMetadata ?? {} };
  }

  async get(key: string) {
    const o = await this.store().getObject(key);
    if (!o) return null;
    const body = o.body;
    return {
      key: o.key,
      size: o.size,
      uploaded: new Date(o.uploaded),
      httpMetadata: { contentType: o.contentType ?? undefined },
      customMetadata: o.customMetadata,
      get body() {
        return new Response(body).body;
      },
      arrayBuffer: async () => body,
      text: async () => new TextDecoder().decode(body),
      json: async <T>() => JSON.parse(new TextDecoder().decode(body)) as T,
    };
  }

  async head(key: string) {
    const o = await this.get(key);
    return o && { key: o.key, size: o.size, uploaded: o.uploaded, httpMetadata: o.httpMetadata, customMetadata: o.customMetadata };
  }

  async delete(keys: string | string[]): Promise<void> {
    await this.store().deleteObjects(Array.isArray(keys) ? keys : [keys]);
  }

  async list(options: { prefix?: string; cursor?: string; limit?: number } = {}) {
    const limit = Math.min(options.limit ?? 1000, 1000);
    const page = await this.store().listObjects(options.prefix ?? "", options.cursor ?? null, limit);
    const objects = page.keys.map((k) => ({ key: k.key, size: k.size, uploaded: new Date(k.uploaded) }));
    return { objects, truncated: page.truncated, cursor: page.truncated ? objects.at(-1)!.key : undefined, delimitedPrefixes: [] as string[] };
  }
}
