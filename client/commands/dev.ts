/**
 * `gatehouse dev token|issuer` — ⚠ DEVELOPMENT ONLY helpers around the local OIDC issuer.
 *
 * Claims: `--claim k=v` sets a string claim, except `groups`, which is always an array
 * (`--claim groups=a --claim groups=b` → ["a","b"]; one `--claim groups=a` → ["a"]).
 * Repeating any other claim is an error. `--claim-json k=<json>` sets any JSON value.
 */
import { didYouMean } from "../suggest.ts";
import { COMMAND_TREE } from "../command-tree.ts";
import { parseArgs, parseDurationSeconds, parsePort } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { keyMismatch, probeDevIssuer } from "../dev/issuer-probe.ts";
import {
  DEV_DEFAULT_AUDIENCE,
  DEV_DEFAULT_TTL_SECONDS,
  DEV_ISSUER_DEFAULT_PORT,
  defaultIssuerKeyFile,
  localDevIssuerId,
  mintDevToken,
  readIssuerKeyId,
  startDevIssuer,
} from "../dev/issuer.ts";
import type { CommandIO } from "./io.ts";

export const DEV_USAGE = `usage:
  gatehouse dev token [--sub alice] [--claim k=v ...] [--claim-json k=<json> ...] [--aud gatehouse] [--ttl 1h] [--issuer URL]
      mint a token from the DEVELOPMENT issuer key (.gatehouse/dev/issuer-key.json); prints the JWT alone
      (groups is always an array: --claim groups=a --claim groups=b → ["a","b"]; other --claim values are strings)
  gatehouse dev issuer [--port ${DEV_ISSUER_DEFAULT_PORT}]
      serve the DEVELOPMENT issuer's OIDC discovery and JWKS on 127.0.0.1 (npm start already does this)
`;

const ARRAY_CLAIMS = new Set(["groups"]);

export function buildClaims(claimArgs: string[], jsonArgs: string[]): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  const split = (arg: string, flag: string): [string, string] => {
    const eq = arg.indexOf("=");
    if (eq <= 0) throw new UsageError(`${flag} expects key=value, got ${JSON.stringify(arg)}`);
    return [arg.slice(0, eq), arg.slice(eq + 1)];
  };
  for (const arg of claimArgs) {
    const [k, v] = split(arg, "--claim");
    if (ARRAY_CLAIMS.has(k)) {
      const list = (claims[k] as string[] | undefined) ?? [];
      list.push(v);
      claims[k] = list;
    } else {
      if (k in claims) throw new UsageError(`--claim ${k} given twice (use --claim-json ${k}='[...]' for a list)`);
      claims[k] = v;
    }
  }
  for (const arg of jsonArgs) {
    const [k, v] = split(arg, "--claim-json");
    if (k in claims) throw new UsageError(`claim ${k} given twice`);
    try {
      claims[k] = JSON.parse(v);
    } catch {
      throw new UsageError(`--claim-json ${k}: value is not JSON`);
    }
  }
  return claims;
}

export async function devCommand(argv: string[], io: CommandIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === "token") return devToken(rest, io);
  if (sub === "issuer") return devIssuer(rest, io);
  if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
    io.stdout(DEV_USAGE);
    return sub === undefined ? 2 : 0;
  }
  throw new UsageError(`unknown dev command ${JSON.stringify(sub)}${didYouMean(String(sub), COMMAND_TREE.dev!)}`);
}

async function devToken(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, {
    sub: { kind: "string" },
    claim: { kind: "list" },
    "claim-json": { kind: "list" },
    aud: { kind: "list" },
    ttl: { kind: "string" },
    issuer: { kind: "string" },
    "key-file": { kind: "string" },
    help: { kind: "boolean", short: "h" },
  });
  if (args.booleans.has("help")) {
    io.stdout(DEV_USAGE);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
  let claims: Record<string, unknown>;
  try {
    claims = buildClaims(args.lists.get("claim") ?? [], args.lists.get("claim-json") ?? []);
  } catch (err) {
    throw err instanceof UsageError ? err : new UsageError(String(err));
  }
  const auds = args.lists.get("aud") ?? [io.env.GATEHOUSE_AUDIENCE ?? DEV_DEFAULT_AUDIENCE];
  const issuer = args.strings.get("issuer") ?? (io.env.GATEHOUSE_ISSUER_URL || undefined);
  const keyFile = args.strings.get("key-file") ?? defaultIssuerKeyFile(io.env);
  // Never mint from a key the running stack does not trust: say which stack runs, and how to use it.
  const running = await probeDevIssuer(issuer ?? (await localDevIssuerId(io.env, keyFile)));
  if (running) {
    const mismatch = keyMismatch(running, keyFile, await readIssuerKeyId(keyFile).catch(() => undefined));
    if (mismatch) throw new CliError(mismatch);
  }
  const token = await mintDevToken({
    sub: args.strings.get("sub") ?? "alice",
    claims,
    audience: auds.length === 1 ? auds[0]! : auds,
    ttlSeconds: args.strings.has("ttl") ? parseDurationSeconds(args.strings.get("ttl")!, "--ttl") : DEV_DEFAULT_TTL_SECONDS,
    issuer,
    keyFile,
  }).catch((err: Error) => {
    throw new UsageError(err.message);
  });
  io.stdout(`${token}\n`);
  return 0;
}

async function devIssuer(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, { port: { kind: "string" }, "key-file": { kind: "string" } });
  const port = args.strings.has("port") ? parsePort(args.strings.get("port")!, "--port") : Number(io.env.GATEHOUSE_ISSUER_PORT ?? DEV_ISSUER_DEFAULT_PORT);
  const issuer = await startDevIssuer({ port, keyFile: args.strings.get("key-file") });
  io.stderr(`gatehouse: DEVELOPMENT-ONLY OIDC issuer at ${issuer.url} (key ${issuer.keyFile}); never trust it in production\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await issuer.close();
  return 0;
}
