/**
 * Shared plumbing of `gatehouse sessions` and `gatehouse review`: the I/O they may be given, the
 * HTTP client for the gateway's /v1/sessions API and audit keys, and file access.
 */
import { parseKeySet, type AuditPublicKey } from "../../parsers/audit/index.ts";
import { resolveTokenSource } from "../auth/token-source.ts";
import { CliError, GatewayUnreachableError, UsageError, describeError } from "../errors.ts";
import { DEFAULT_GATEWAY, errorFromBody, parseGatewayUrl } from "../gateway/api.ts";

export interface AuditCommandIO {
  stdout(s: string): void;
  stderr(s: string): void;
  /** Defaults to process.env. */
  env?: Record<string, string | undefined>;
  /** Defaults to the global fetch (tests route it to the worker in-process). */
  fetch?: (request: Request) => Promise<Response>;
}

/** Largest export/key document read into memory (a session trail is bounded by the recorder's limits). */
export const MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 120_000;

// node:fs is loaded lazily (and by a non-literal specifier) so these commands also load in workerd tests.
async function fs(): Promise<typeof import("node:fs/promises")> {
  const specifier = "node:fs/promises";
  return (await import(/* @vite-ignore */ specifier)) as typeof import("node:fs/promises");
}

export async function readTextFile(path: string, what: string): Promise<string> {
  try {
    const f = await fs();
    const info = await f.stat(path);
    if (info.size > MAX_DOWNLOAD_BYTES) throw new CliError(`${what} ${path} is larger than ${MAX_DOWNLOAD_BYTES} bytes`);
    return await f.readFile(path, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${what} ${path}: ${describeError(err)}`);
  }
}

export async function writeTextFile(path: string, text: string): Promise<void> {
  try {
    await (await fs()).writeFile(path, text, { mode: 0o600 });
  } catch (err) {
    throw new CliError(`cannot write ${path}: ${describeError(err)}`);
  }
}

export async function readKeysFile(path: string): Promise<AuditPublicKey[]> {
  const text = await readTextFile(path, "keys file");
  try {
    return parseKeySet(JSON.parse(text));
  } catch (err) {
    throw new CliError(`keys file ${path} is not a Gatehouse audit key set: ${describeError(err)}`);
  }
}

/** Epoch ms or ISO 8601 (a bare date means midnight UTC). */
export function parseTimeArg(text: string, flag: string): number {
  if (/^\d{1,15}$/.test(text)) return Number(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`${flag} must be an ISO 8601 time (2026-11-01 or 2026-11-01T12:00:00Z) or epoch milliseconds`);
  return t;
}

export class AuditApiClient {
  private token: string | undefined;
  constructor(
    readonly base: URL,
    private readonly io: AuditCommandIO,
  ) {}

  static fromArgs(gateway: string | undefined, io: AuditCommandIO): AuditApiClient {
    const env = io.env ?? process.env;
    return new AuditApiClient(parseGatewayUrl(gateway ?? env.GATEHOUSE_URL ?? DEFAULT_GATEWAY), io);
  }

  private async bearer(): Promise<string> {
    this.token ??= await resolveTokenSource({ env: (this.io.env ?? process.env) as NodeJS.ProcessEnv }).getToken();
    return this.token;
  }

  private async get(path: string, opts: { auth: boolean; accept: string }): Promise<Response> {
    const headers: Record<string, string> = { accept: opts.accept };
    if (opts.auth) headers.authorization = `Bearer ${await this.bearer()}`;
    // "manual": a redirect is answered as a non-2xx error below, never followed with our token.
    const request = new Request(new URL(path, this.base), { headers, redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    let res: Response;
    try {
      res = await (this.io.fetch ?? fetch)(request);
    } catch (err) {
      throw new GatewayUnreachableError(this.base.origin, describeError(err));
    }
    if (res.status < 200 || res.status > 299) {
      const text = (await res.text()).slice(0, 4096);
      throw errorFromBody(res.status, text);
    }
    return res;
  }

  private async text(res: Response): Promise<string> {
    const len = Number(res.headers.get("content-length") ?? "0");
    if (len > MAX_DOWNLOAD_BYTES) throw new CliError(`gateway response larger than ${MAX_DOWNLOAD_BYTES} bytes`);
    const text = await res.text();
    if (text.length > MAX_DOWNLOAD_BYTES) throw new CliError(`gateway response larger than ${MAX_DOWNLOAD_BYTES} bytes`);
    return text;
  }

  async json<T>(path: string): Promise<T> {
    const res = await this.get(path, { auth: true, accept: "application/json" });
    try {
      return JSON.parse(await this.text(res)) as T;
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError(`gateway answered ${path} with something that is not JSON`);
    }
  }

  async exportText(id: string): Promise<{ text: string; status: string | null; chunks: number | undefined }> {
    const res = await this.get(`v1/sessions/${encodeURIComponent(checkSessionId(id))}/export`, { auth: true, accept: "application/x-ndjson" });
    const chunks = res.headers.get("gatehouse-chunks");
    return { text: await this.text(res), status: res.headers.get("gatehouse-session-status"), chunks: chunks === null ? undefined : Number(chunks) };
  }

  /** The gateway's published audit keys (public, unauthenticated). Prefer a pinned --keys file. */
  async publishedKeys(): Promise<AuditPublicKey[]> {
    const res = await this.get(".well-known/gatehouse-audit-keys", { auth: false, accept: "application/json" });
    try {
      return parseKeySet(JSON.parse(await this.text(res)));
    } catch (err) {
      throw new CliError(`the gateway's audit key document is invalid: ${describeError(err)}`);
    }
  }
}

export function checkSessionId(id: string | undefined): string {
  if (!id) throw new UsageError("a session id is required");
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/.test(id)) throw new UsageError(`invalid session id ${JSON.stringify(id)}`);
  return id;
}
