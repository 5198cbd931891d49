/**
 * `gatehouse admin connectors enroll-token|list|bind|revoke` — connector enrolment for administrators
 * (worker/routes/admin-connectors.ts, docs/CONNECTOR.md §Enrolment). Admin role only.
 */
import { parseArgs, parseDurationSeconds } from "../args.ts";
import { parseBinding, splitBinding } from "../../parsers/connector-binding.ts";
import { UsageError } from "../errors.ts";
import { errorFromBody } from "../gateway/api.ts";
import type { CommandIO } from "./io.ts";

interface ConnectorView {
  id: string;
  source: string;
  status: string;
  online: boolean;
  thumbprint: string | null;
  enrolled_at: string | null;
  rotated_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  /** The resource names it may serve (globs); null: any name. */
  resources?: string[] | null;
}

export const CONNECTORS_USAGE = `  gatehouse admin connectors enroll-token --id ID [--ttl 15m] [--resources 'prod-*,billing-api'] [--json]
                                                                         one-time enrolment token (single use), binding the
                                                                         connector to those resource names (globs)
  gatehouse admin connectors list [--json]                               enrolled and configured connectors, with their bindings
  gatehouse admin connectors bind <id> --resources 'a-*,b' | --any        change an enrolled connector's binding (closes its channels)
  gatehouse admin connectors revoke <id>                                 refuse its key, close its channel, end its sessions
`;

export async function adminConnectorsCommand(sub: string | undefined, rest: string[], base: URL, headers: Record<string, string>, io: CommandIO): Promise<number> {
  const a = parseArgs(rest, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, id: { kind: "string" }, ttl: { kind: "string" }, resources: { kind: "string" }, any: { kind: "boolean" } });
  /** --resources 'prod-*,billing-api': checked here first, so a typo is told before any call. */
  const resources = (): string[] | undefined => {
    if (!a.strings.has("resources")) return undefined;
    try {
      return parseBinding(splitBinding(a.strings.get("resources")!), "--resources");
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "error",
    });
    const text = await res.text();
    if (!res.ok) throw errorFromBody(res.status, text);
    return JSON.parse(text) as unknown;
  };
  if (sub === "enroll-token") {
    const id = a.strings.get("id");
    if (!id || a.positionals.length) throw new UsageError("admin connectors enroll-token needs --id ID");
    const ttl = a.strings.has("ttl") ? parseDurationSeconds(a.strings.get("ttl")!, "--ttl") : undefined;
    const bound = resources();
    const r = (await call("POST", "v1/admin/connectors/enroll-tokens", { id, ...(ttl === undefined ? {} : { ttl_seconds: ttl }), ...(bound === undefined ? {} : { resources: bound }) })) as {
      id: string;
      token: string;
      expires_at: string;
      resources?: string[] | null;
    };
    if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r)}\n`);
    else {
      // The token on stdout alone, so `$(gatehouse admin connectors enroll-token …)` captures it.
      io.stdout(`${r.token}\n`);
      const serves = r.resources ? `serving only ${r.resources.join(", ")}` : "serving any resource name (bind it with --resources)";
      io.stderr(`enrolment token for connector ${r.id} (${serves}): single use, expires ${r.expires_at}. On the connector host:\n  gatehouse-connector enroll --gateway ${base.origin}${base.pathname.replace(/\/$/, "")} --token <token> --out /etc/gatehouse\n`);
    }
    return 0;
  }
  if (sub === "list") {
    if (a.positionals.length) throw new UsageError("admin connectors list takes no arguments");
    const r = (await call("GET", "v1/admin/connectors")) as { connectors: ConnectorView[] };
    if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r.connectors, null, 2)}\n`);
    else if (r.connectors.length === 0) io.stdout("no connectors\n");
    else {
      io.stdout("ID\tSOURCE\tSTATUS\tONLINE\tRESOURCES\tKEY (sha256 thumbprint)\tSINCE\n");
      for (const c of r.connectors) {
        const since = c.revoked_at ?? c.rotated_at ?? c.enrolled_at ?? "-";
        io.stdout(`${c.id}\t${c.source}\t${c.status}\t${c.online ? "yes" : "no"}\t${c.resources ? c.resources.join(",") : "any"}\t${c.thumbprint ?? "-"}\t${since}\n`);
      }
    }
    return 0;
  }
  if (sub === "bind") {
    if (a.positionals.length !== 1) throw new UsageError("admin connectors bind needs one connector id");
    const bound = resources();
    if ((bound === undefined) === !a.booleans.has("any")) throw new UsageError("admin connectors bind needs --resources 'PATTERN,…' or --any (any resource name)");
    const id = a.positionals[0]!;
    const r = (await call("POST", `v1/admin/connectors/${encodeURIComponent(id)}/bind`, { resources: bound ?? null })) as ConnectorView & { closed_control_channels: number; ended_sessions?: number };
    // ended_sessions: absent from a gateway older than ending them on a binding change.
    const ended = r.ended_sessions === undefined ? "" : `, ${r.ended_sessions} live session(s) outside it ended`;
    if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r)}\n`);
    else io.stdout(`connector ${id} may now serve ${r.resources ? r.resources.join(", ") : "any resource name"}: ${r.closed_control_channels} control channel(s) closed${ended}; its next hello is judged under this binding\n`);
    return 0;
  }
  if (sub === "revoke") {
    if (a.positionals.length !== 1) throw new UsageError("admin connectors revoke needs one connector id");
    const id = a.positionals[0]!;
    const r = (await call("POST", `v1/admin/connectors/${encodeURIComponent(id)}/revoke`)) as ConnectorView & {
      already_revoked: boolean;
      closed_control_channels: number;
      ended_sessions: number;
    };
    if (a.booleans.has("json")) io.stdout(`${JSON.stringify(r)}\n`);
    else if (r.already_revoked) io.stdout(`connector ${id} was already revoked at ${r.revoked_at}\n`);
    else io.stdout(`connector ${id} revoked: ${r.closed_control_channels} control channel(s) closed, ${r.ended_sessions} live session(s) ended; its key is refused from now on\n`);
    return 0;
  }
  throw new UsageError(`unknown admin connectors command ${JSON.stringify(sub ?? "")}; one of enroll-token, list, bind, revoke`);
}
