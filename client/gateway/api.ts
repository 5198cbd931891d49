/**
 * HTTP calls the CLI makes to the gateway (worker) besides the tunnel itself:
 * resource lookup and PostgreSQL cancel routing. See docs/PROTOCOL.md §Endpoints.
 */
import { CliError, GatewayHttpError, GatewayUnreachableError, describeError } from "../errors.ts";
import { RESOURCE_NAME_RULE, isResourceName } from "../../parsers/resource-name.ts";

export const DEFAULT_GATEWAY = "http://127.0.0.1:8787";
/** Error bodies are one line of JSON; never read more than this. */
const MAX_ERROR_BODY_BYTES = 4096;
const REQUEST_TIMEOUT_MS = 15_000;

export interface ResourceDescription {
  name: string;
  type: string;
  labels: Record<string, string>;
  online: boolean;
}

/** Resource names travel in URL paths: keep them to a safe alphabet. */
export function checkResourceName(name: string): string {
  if (!isResourceName(name)) throw new CliError(`invalid resource name ${JSON.stringify(name)} (${RESOURCE_NAME_RULE})`);
  return name;
}

/** Normalise `--gateway` / `GATEHOUSE_URL` (http or https, no query or fragment). */
export function parseGatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(`gateway URL ${JSON.stringify(text)} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`gateway URL must be http:// or https://, got ${url.protocol}`);
  if (url.search || url.hash || url.username || url.password) throw new CliError("gateway URL must not carry credentials, a query or a fragment");
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/** The WebSocket URL of `/v1/tunnel/<resource>`. */
export function tunnelUrl(gateway: URL, resource: string): URL {
  const url = new URL(`v1/tunnel/${encodeURIComponent(checkResourceName(resource))}`, gateway);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

/** Reads `{ error, reason }` from a non-2xx gateway answer, bounded. */
export function errorFromBody(status: number, body: string): GatewayHttpError {
  let error = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 404 ? "not_found" : `http_${status}`;
  let reason = "";
  try {
    const parsed = JSON.parse(body) as { error?: unknown; reason?: unknown; message?: unknown };
    if (typeof parsed.error === "string") error = parsed.error;
    if (typeof parsed.reason === "string") reason = parsed.reason;
    else if (typeof parsed.message === "string") reason = parsed.message;
  } catch {
    // Not JSON (a proxy page…): keep the status only; never echo arbitrary HTML.
  }
  // One printable line, bounded, so a hostile gateway cannot spray the terminal.
  reason = reason.replace(/[^\x20-\x7e]/g, " ").slice(0, 300);
  return new GatewayHttpError(status, error.replace(/[^\x20-\x7e]/g, " ").slice(0, 60), reason);
}

/**
 * Reads at most `maxBytes` of a response body (a hostile or broken server cannot make us buffer
 * without limit). Past the limit: "truncate" keeps the first `maxBytes`; a function's error is thrown.
 */
export async function readBodyBounded(res: Response, maxBytes: number, overflow: "truncate" | (() => Error)): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.length > maxBytes) {
      await reader.cancel();
      if (overflow !== "truncate") throw overflow();
      chunks.push(value.subarray(0, maxBytes - total));
      break;
    }
    chunks.push(value);
    total += value.length;
  }
  return Buffer.concat(chunks).toString("utf8");
}

export class GatewayClient {
  constructor(readonly base: URL) {}

  private async request(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; text: string }> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        redirect: "error",
      });
    } catch (err) {
      throw new GatewayUnreachableError(this.base.origin, describeError(err));
    }
    const text = await readBodyBounded(res, MAX_ERROR_BODY_BYTES, "truncate");
    if (res.status < 200 || res.status > 299) throw errorFromBody(res.status, text);
    return { status: res.status, text };
  }

  /** `GET /v1/resources/:name` — which protocol engine to use, and whether a connector serves it. */
  async describeResource(name: string, token: string): Promise<ResourceDescription> {
    const { text } = await this.request("GET", `v1/resources/${encodeURIComponent(checkResourceName(name))}`, token);
    let parsed: Partial<ResourceDescription>;
    try {
      parsed = JSON.parse(text) as Partial<ResourceDescription>;
    } catch {
      throw new CliError("gateway returned a resource description that is not JSON");
    }
    if (typeof parsed.type !== "string") throw new CliError("gateway returned a resource description without a type");
    return {
      name: typeof parsed.name === "string" ? parsed.name : name,
      type: parsed.type,
      labels: parsed.labels && typeof parsed.labels === "object" ? (parsed.labels as Record<string, string>) : {},
      online: parsed.online === true,
    };
  }

  /** `POST /v1/cancel` — route a PostgreSQL CancelRequest to the session that owns the key. */
  async cancel(pid: number, secret: number, token: string): Promise<void> {
    await this.request("POST", "v1/cancel", token, { pid, secret });
  }
}
