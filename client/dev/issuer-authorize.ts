/**
 * ⚠ DEVELOPMENT ONLY — the development issuer's authorization endpoint, so people can sign in to
 * the local console (and `gatehouse login`) end to end without a cloud identity provider:
 *
 *   GET  /authorize   a login page: any name, groups to pick (approvers, auditors, admins, …)
 *   POST /authorize   → 302 to redirect_uri with ?code&state
 *   POST /token       code + PKCE verifier → ID token (same key and claims as `gatehouse dev token`);
 *                     grant_type=refresh_token renews it
 *
 * It asks for no password: whoever reaches it picks who they are. It is exactly as trustworthy as
 * `gatehouse dev token`, and like it only ever trusted by gateways that list it with `dev: true`.
 * Only loopback redirect URIs are accepted, and PKCE (S256) is required. A test may name more
 * redirect origins (`redirectOrigins`, https only, exact origins: tenants reached by their own
 * host names in test/console/tenant-hosts.test.ts); nothing outside code that starts the issuer
 * can set them (no variable, no flag).
 */
import type http from "node:http";
import { createHash, randomBytes } from "node:crypto";

export const DEV_GROUPS = ["approvers", "auditors", "admins", "developers"];
const CODE_TTL_MS = 60_000;
const REFRESH_TTL_MS = 12 * 3600_000;

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce?: string;
  sub: string;
  groups: string[];
  expiresAt: number;
}

export interface AuthorizeDeps {
  /** Mints an ID token for these claims, audience = the client id. */
  mint(sub: string, claims: Record<string, unknown>, audience: string): Promise<string>;
  ttlSeconds: number;
  /** More accepted redirect origins (exact, https): tests only (DevIssuerOptions.redirectOrigins). */
  redirectOrigins?: readonly string[];
}

const ESC: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ESC[c]!);

function allowedRedirect(uri: string, origins: readonly string[]): boolean {
  try {
    const u = new URL(uri);
    if (u.username || u.password) return false;
    if (u.protocol === "https:" && origins.includes(u.origin)) return true;
    return u.protocol === "http:" && (u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]");
  } catch {
    return false;
  }
}

function readBody(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
      if (text.length > 64 * 1024) req.destroy(new Error("body too large"));
    });
    req.on("end", () => resolve(new URLSearchParams(text)));
    req.on("error", reject);
  });
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

/** Exact https origins only: a pattern or a plain-http name would widen what the issuer sends codes to. */
export function checkRedirectOrigins(origins: readonly string[]): string[] {
  return origins.map((o) => {
    const u = new URL(o);
    if (u.protocol !== "https:" || u.origin !== o || !/^[a-z0-9.-]+$/.test(u.hostname)) throw new Error(`development issuer: redirect origin ${o} must be an exact https origin (scheme://host[:port])`);
    return o;
  });
}

export function createAuthorizeHandler(deps: AuthorizeDeps) {
  const redirectOrigins = checkRedirectOrigins(deps.redirectOrigins ?? []);
  const codes = new Map<string, IssuedCode>();
  const refreshTokens = new Map<string, { clientId: string; sub: string; groups: string[]; expiresAt: number }>();

  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "x-gatehouse-dev-issuer": "development-only" });
    res.end(JSON.stringify(body));
  };
  const htmlPage = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      // form-action also governs where the form's redirect may go: the accepted redirect origins.
      "content-security-policy": `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:*${redirectOrigins.map((o) => ` ${o}`).join("")}; frame-ancestors 'none'`,
      "x-gatehouse-dev-issuer": "development-only",
    });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Development sign-in</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}input[type=text]{font:inherit;width:100%;padding:.4rem}button{font:inherit;padding:.5rem 1rem}.warn{background:#fff3cd;color:#5c4400;padding:.5rem;border-radius:4px}</style></head><body>${body}</body></html>`);
  };

  const params = ["response_type", "client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method", "scope"] as const;

  async function authorize(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const p = req.method === "POST" ? await readBody(req) : url.searchParams;
    const get = (k: string) => p.get(k) ?? "";
    const redirectUri = get("redirect_uri");
    if (!allowedRedirect(redirectUri, redirectOrigins)) return htmlPage(res, 400, `<p>redirect_uri must be a loopback http URL (development issuer).</p>`);
    if (get("response_type") !== "code") return htmlPage(res, 400, `<p>response_type must be code.</p>`);
    if (get("code_challenge_method") !== "S256" || !/^[A-Za-z0-9_-]{43}$/.test(get("code_challenge"))) return htmlPage(res, 400, `<p>PKCE (code_challenge_method=S256) is required.</p>`);
    if (!get("client_id")) return htmlPage(res, 400, `<p>client_id is required.</p>`);
    if (req.method === "GET") {
      const hidden = params.map((k) => `<input type="hidden" name="${k}" value="${esc(get(k))}">`).join("");
      const boxes = DEV_GROUPS.map((g) => `<label><input type="checkbox" name="groups" value="${g}"> ${g}</label>`).join("");
      return htmlPage(
        res,
        200,
        `<h1>Development sign-in</h1><p class="warn">⚠ Development issuer: anyone reaching it can sign in as anyone. Never trusted by a production gateway.</p>
<form method="post" action="/authorize">${hidden}<label for="sub">Name</label><input type="text" id="sub" name="sub" required autofocus autocomplete="username">
<fieldset><legend>Groups</legend>${boxes}<label for="extra">Other groups (comma-separated)</label><input type="text" id="extra" name="extra_groups"></fieldset>
<p><button type="submit">Sign in</button></p></form>`,
      );
    }
    const sub = get("sub").trim();
    if (!sub || sub.length > 200) return htmlPage(res, 400, `<p>Name is required.</p>`);
    const groups = [...p.getAll("groups"), ...get("extra_groups").split(",")].map((g) => g.trim()).filter((g) => g.length > 0 && g.length <= 100);
    const code = b64url(randomBytes(32));
    codes.set(code, { clientId: get("client_id"), redirectUri, challenge: get("code_challenge"), nonce: get("nonce") || undefined, sub, groups: [...new Set(groups)], expiresAt: Date.now() + CODE_TTL_MS });
    const back = new URL(redirectUri);
    back.searchParams.set("code", code);
    if (get("state")) back.searchParams.set("state", get("state"));
    res.writeHead(302, { location: back.toString(), "cache-control": "no-store" });
    res.end();
  }

  async function issue(res: http.ServerResponse, clientId: string, sub: string, groups: string[], nonce?: string): Promise<void> {
    const claims: Record<string, unknown> = { name: sub, preferred_username: sub, groups };
    if (nonce) claims.nonce = nonce;
    const idToken = await deps.mint(sub, claims, clientId);
    const refresh = b64url(randomBytes(32));
    refreshTokens.set(refresh, { clientId, sub, groups, expiresAt: Date.now() + REFRESH_TTL_MS });
    json(res, 200, { id_token: idToken, access_token: idToken, token_type: "Bearer", expires_in: deps.ttlSeconds, refresh_token: refresh });
  }

  async function token(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const p = await readBody(req);
    const grant = p.get("grant_type");
    if (grant === "refresh_token") {
      const rt = refreshTokens.get(p.get("refresh_token") ?? "");
      refreshTokens.delete(p.get("refresh_token") ?? "");
      if (!rt || rt.expiresAt < Date.now() || rt.clientId !== p.get("client_id")) return json(res, 400, { error: "invalid_grant" });
      return issue(res, rt.clientId, rt.sub, rt.groups);
    }
    if (grant !== "authorization_code") return json(res, 400, { error: "unsupported_grant_type" });
    const code = p.get("code") ?? "";
    const issued = codes.get(code);
    codes.delete(code); // one use, whatever happens next
    if (!issued || issued.expiresAt < Date.now()) return json(res, 400, { error: "invalid_grant", error_description: "unknown, used or expired code" });
    if (p.get("redirect_uri") !== issued.redirectUri) return json(res, 400, { error: "invalid_grant", error_description: "redirect_uri does not match" });
    if (p.get("client_id") !== issued.clientId) return json(res, 400, { error: "invalid_client" });
    const verifier = p.get("code_verifier") ?? "";
    if (b64url(createHash("sha256").update(verifier).digest()) !== issued.challenge) return json(res, 400, { error: "invalid_grant", error_description: "PKCE verification failed" });
    return issue(res, issued.clientId, issued.sub, issued.groups, issued.nonce);
  }

  /** Handles the path when it is one of ours; false otherwise. */
  return async function handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<boolean> {
    if (url.pathname === "/authorize" && (req.method === "GET" || req.method === "POST")) {
      await authorize(req, res, url);
      return true;
    }
    if (url.pathname === "/token" && req.method === "POST") {
      await token(req, res);
      return true;
    }
    return false;
  };
}
