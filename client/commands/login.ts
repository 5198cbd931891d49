/**
 * `gatehouse login` / `gatehouse logout` — sign a person in for the CLI.
 *
 *   gatehouse login [--issuer URL] [--client-id ID] [--no-browser]
 *
 * OIDC authorization code flow with PKCE (S256) and a loopback redirect (RFC 8252): a one-shot
 * listener on 127.0.0.1, state and nonce checked, the ID token stored 0600 (client/signin/credentials.ts)
 * and renewed with the refresh token. Every command uses it when GATEHOUSE_TOKEN is unset and no
 * CI token is available (client/auth/token-source.ts). A gateway that names the provider is trusted
 * with the issuer's name only: the code goes to the endpoints of the issuer's own discovery document.
 */
import http from "node:http";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { decodeJwt } from "jose";
import { parseArgs, type FlagSpec } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { DEFAULT_AUDIENCE } from "../auth/token-source.ts";
import { defaultIssuerUrl } from "../dev/issuer.ts";
import { credentialsFile, removeCredentials, tokenRequest, writeCredentials } from "../signin/credentials.ts";
import { gatewayOidcProvider, shown } from "../signin/gateway-providers.ts";
import { confirmedByIssuer, discoverIssuer, type IssuerEndpoints } from "../signin/issuer-discovery.ts";
import { parseGatewayUrl } from "../gateway/api.ts";
import type { CommandIO } from "./io.ts";

export const LOGIN_USAGE = `usage:
  gatehouse login [--gateway URL [--provider ID]] [--issuer URL] [--client-id ID] [--no-browser]
      sign in with your identity provider (browser, loopback redirect + PKCE); the token is stored
      0600 in $GATEHOUSE_CREDENTIALS or ~/.config/gatehouse/credentials.json and renewed automatically.
      Without --issuer, the gateway (--gateway or env GATEHOUSE_URL; a tenant's URL in hosted mode)
      is asked which OIDC provider its people sign in with, and its issuer and client id are used;
      the endpoints are the ones that issuer publishes (a gateway naming others is refused); env
      GATEHOUSE_LOGIN_ISSUERS (issuers, comma-separated) limits which issuers a gateway may name.
      --gateway    the gateway (or tenant) whose sign-in provider to use (env GATEHOUSE_URL)
      --provider   which of the gateway's OIDC providers, when it has several
      --issuer     the OIDC issuer (env GATEHOUSE_LOGIN_ISSUER); without it and without a gateway:
                   the local development issuer
      --client-id  the client id registered for the CLI (env GATEHOUSE_LOGIN_CLIENT_ID; default: the
                   gateway's provider's, or "gatehouse" with --issuer)
      --no-browser print the sign-in URL instead of opening a browser
  gatehouse logout
      forget the stored sign-in
`;

const SPEC: Record<string, FlagSpec> = {
  issuer: { kind: "string" },
  "client-id": { kind: "string" },
  gateway: { kind: "string" },
  provider: { kind: "string" },
  "no-browser": { kind: "boolean" },
  help: { kind: "boolean", short: "h" },
};

const b64url = (b: Buffer) => b.toString("base64url");
const LOGIN_TIMEOUT_MS = 5 * 60_000;

function openBrowser(url: string): void {
  const cmd = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  const child = spawn(cmd, [url], { stdio: "ignore", detached: true });
  child.on("error", () => {});
  child.unref();
}

/** Waits for the one redirect back to the loopback listener; resolves with its query. */
function loopback(): Promise<{ redirectUri: string; result: Promise<URLSearchParams>; close: () => void }> {
  return new Promise((resolve, reject) => {
    let deliver: (q: URLSearchParams) => void;
    let fail: (e: Error) => void;
    const result = new Promise<URLSearchParams>((res, rej) => ((deliver = res), (fail = rej)));
    const server = http.createServer((req, res) => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      if (u.pathname !== "/callback") {
        res.writeHead(404).end();
        return;
      }
      const ok = u.searchParams.has("code");
      res.writeHead(ok ? 200 : 400, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      res.end(ok ? "Signed in to gatehouse. You can close this tab and return to the terminal.\n" : `Sign-in failed: ${u.searchParams.get("error") ?? "no code"}\n`);
      deliver(u.searchParams);
    });
    const timer = setTimeout(() => fail(new CliError("timed out waiting for the browser sign-in (5 minutes)")), LOGIN_TIMEOUT_MS);
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as import("node:net").AddressInfo).port;
      resolve({
        redirectUri: `http://127.0.0.1:${port}/callback`,
        result,
        close: () => {
          clearTimeout(timer);
          server.close();
          server.closeAllConnections();
        },
      });
    });
  });
}

/**
 * Which provider and client: an issuer given (flag or env) is used as before; otherwise a gateway
 * given (flag or GATEHOUSE_URL) names its own provider (client/signin/gateway-providers.ts), whose
 * endpoints must be the ones its issuer publishes (client/signin/issuer-discovery.ts);
 * otherwise the local development issuer (npm start).
 */
async function chooseProvider(args: ReturnType<typeof parseArgs>, io: CommandIO): Promise<{ d: IssuerEndpoints; clientId: string; fromGateway: boolean }> {
  // An empty variable is an unset one (`GATEHOUSE_URL= gatehouse login`).
  const fromEnv = (name: string) => io.env[name] || undefined;
  const issuer = args.strings.get("issuer") ?? fromEnv("GATEHOUSE_LOGIN_ISSUER");
  const gateway = args.strings.get("gateway") ?? fromEnv("GATEHOUSE_URL");
  const clientIdGiven = args.strings.get("client-id") ?? fromEnv("GATEHOUSE_LOGIN_CLIENT_ID");
  if (issuer === undefined && gateway !== undefined) {
    const base = parseGatewayUrl(gateway);
    // The gateway names the issuer; the code goes only where that issuer's own discovery says.
    // Which issuer is the person's to judge: an organisation can fix the list (GATEHOUSE_LOGIN_ISSUERS),
    // checked before anything is asked of the named issuer; otherwise its host is printed (as
    // punycode, so a look-alike name shows) before the browser is sent there.
    const named = await gatewayOidcProvider(base, args.strings.get("provider"));
    const trusted = fromEnv("GATEHOUSE_LOGIN_ISSUERS")?.split(/[\s,]+/).filter(Boolean);
    if (trusted && !trusted.includes(named.issuer)) {
      throw new CliError(`refusing to sign in with the gateway's sign-in provider ${shown(named.id)}: its issuer ${shown(named.issuer)} is not one of GATEHOUSE_LOGIN_ISSUERS (${trusted.map(shown).join(", ")})`);
    }
    const p = await confirmedByIssuer(named);
    const clientId = clientIdGiven ?? p.client_id;
    io.stderr(`signing in with ${shown(p.label)} (issuer ${shown(p.issuer)} at host ${new URL(p.issuer).host}, client ${shown(clientId)}), the sign-in provider of ${base}\n`);
    return { d: p, clientId, fromGateway: true };
  }
  if (args.strings.has("provider")) throw new UsageError("--provider chooses among a gateway's sign-in providers; it does not go with --issuer");
  return { d: await discoverIssuer(issuer ?? defaultIssuerUrl(io.env), { exactIssuer: false }), clientId: clientIdGiven ?? DEFAULT_AUDIENCE, fromGateway: false };
}

async function login(args: ReturnType<typeof parseArgs>, io: CommandIO): Promise<number> {
  const { d, clientId, fromGateway } = await chooseProvider(args, io);
  const verifier = b64url(randomBytes(48));
  const state = b64url(randomBytes(32));
  const nonce = b64url(randomBytes(32));
  const lb = await loopback();
  try {
    const u = new URL(d.authorization_endpoint);
    for (const [k, v] of Object.entries({
      response_type: "code",
      client_id: clientId,
      redirect_uri: lb.redirectUri,
      scope: "openid profile email groups offline_access",
      state,
      nonce,
      code_challenge: b64url(createHash("sha256").update(verifier).digest()),
      code_challenge_method: "S256",
    }))
      u.searchParams.set(k, v);
    io.stderr(`Sign in in your browser:\n  ${u}\n`);
    if (!args.booleans.has("no-browser")) openBrowser(u.toString());
    const q = await lb.result;
    if (q.get("state") !== state) throw new CliError("the sign-in answer does not belong to this login (state mismatch)");
    if (q.get("error")) throw new CliError(`the identity provider refused: ${shown(q.get("error"))}`);
    const code = q.get("code");
    if (!code) throw new CliError("the identity provider returned no code");
    const tokens = await tokenRequest(d.token_endpoint, { grant_type: "authorization_code", code, redirect_uri: lb.redirectUri, code_verifier: verifier, client_id: clientId });
    const claims = decodeJwt(tokens.id_token);
    if (claims.nonce !== nonce) throw new CliError("the ID token does not belong to this login (nonce mismatch)");
    // The gateway named the issuer: a token from another one would not be accepted there anyway.
    if (fromGateway && claims.iss !== d.issuer) throw new CliError(`the ID token's issuer ${shown(claims.iss)} is not the gateway's provider's (${d.issuer})`);
    const file = credentialsFile(io.env);
    if (file === undefined) throw new CliError("nowhere to keep the sign-in: set HOME, XDG_CONFIG_HOME or GATEHOUSE_CREDENTIALS");
    await writeCredentials(file, { issuer: String(claims.iss ?? d.issuer), token_endpoint: d.token_endpoint, client_id: clientId, id_token: tokens.id_token, refresh_token: tokens.refresh_token });
    io.stderr(`signed in as ${shown(claims.sub)} (${shown(claims.iss)}); token stored in ${file}${tokens.refresh_token ? ", renewed automatically" : ""}\n`);
    return 0;
  } finally {
    lb.close();
  }
}

export async function loginCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, SPEC);
  if (args.booleans.has("help")) {
    io.stdout(LOGIN_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError("login takes no positional arguments");
  return login(args, io);
}

export async function logoutCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, { help: { kind: "boolean", short: "h" } });
  if (args.booleans.has("help")) {
    io.stdout(LOGIN_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError("logout takes no arguments");
  const file = credentialsFile(io.env);
  io.stderr(file !== undefined && (await removeCredentials(file)) ? `signed out (removed ${file})\n` : "not signed in\n");
  return 0;
}
