/**
 * Admin API for connectors (docs/CONNECTOR.md §Enrolment): create one-time enrolment tokens,
 * list enrolled and configured connectors, revoke one. Admin role only. The worker keeps only a
 * token's SHA-256; the token itself is shown once, to the administrator who created it.
 */
import { Hono } from "hono";
import { registryHub } from "../connectors/hub-shards.ts";
import { requireRole, type AppEnv } from "../auth/bearer-identity.ts";
import { gatewayConfig } from "../config/gateway-config.ts";
import { BadRequestError, GatewayError } from "../errors.ts";
import { parseBinding } from "../../parsers/connector-binding.ts";
import { hashEnrolmentToken, MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS, newEnrolmentToken, type ConnectorRecord } from "../connectors/registry.ts";

/** Same alphabet as the connector's `id:` (connector/config.ts). */
const CONNECTOR_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEFAULT_TTL_SECONDS = 15 * 60;

const admin = requireRole("admin");
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface ConnectorView {
  id: string;
  source: "enrolled" | "configuration";
  status: "active" | "revoked";
  online: boolean;
  thumbprint: string | null;
  enrolled_at: string | null;
  enrolled_by: string | null;
  rotated_at: string | null;
  revoked_at: string | null;
  revoked_by: string | null;
  /** The resource names it may serve (globs); null: any name. */
  resources: string[] | null;
  bound_at: string | null;
  bound_by: string | null;
}

function view(r: ConnectorRecord, online: boolean): ConnectorView {
  return {
    id: r.id,
    source: r.source,
    status: r.revokedAt === null ? "active" : "revoked",
    online: online && r.revokedAt === null,
    thumbprint: r.thumbprint,
    enrolled_at: iso(r.enrolledAt),
    enrolled_by: r.enrolledBy,
    rotated_at: iso(r.rotatedAt),
    revoked_at: iso(r.revokedAt),
    revoked_by: r.revokedBy,
    resources: r.resources ?? null,
    bound_at: iso(r.boundAt ?? null),
    bound_by: r.boundBy ?? null,
  };
}

/** The `resources` of a request body: a binding, null (any name: only where `nullable`), or a 400 saying why. */
function bindingOf(value: unknown, nullable: boolean): string[] | null | undefined {
  if (value === null && nullable) return null;
  if (value === null) throw new BadRequestError("resources must be a list of resource name patterns (omit it to allow any name)");
  try {
    return parseBinding(value, "resources");
  } catch (e) {
    throw new BadRequestError((e as Error).message);
  }
}

export const adminConnectorRoutes = new Hono<AppEnv>()
  .post("/enroll-tokens", admin, async (c) => {
    const body = (await c.req.json().catch(() => null)) as { id?: unknown; ttl_seconds?: unknown; resources?: unknown } | null;
    const id = body?.id;
    if (typeof id !== "string" || !CONNECTOR_ID.test(id)) throw new BadRequestError("id must be a connector id: letters, digits, . _ - (max 64), starting with a letter or digit");
    const ttl = body?.ttl_seconds ?? DEFAULT_TTL_SECONDS;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < MIN_TOKEN_TTL_SECONDS || ttl > MAX_TOKEN_TTL_SECONDS) {
      throw new BadRequestError(`ttl_seconds must be an integer between ${MIN_TOKEN_TTL_SECONDS} and ${MAX_TOKEN_TTL_SECONDS}`);
    }
    const resources = bindingOf(body?.resources, false) ?? undefined;
    const token = newEnrolmentToken();
    const who = `${c.var.identity.issuer} ${c.var.identity.subject}`;
    const bootstrap = gatewayConfig(c.env).connectors.map((k) => k.id);
    const hub = registryHub(c.env);
    const result = await hub.createEnrolmentToken(await hashEnrolmentToken(token), id, ttl, who, bootstrap, resources);
    if (!result.ok) throw new GatewayError(result.status, result.error, result.reason);
    c.header("cache-control", "no-store");
    return c.json({ id, token, expires_at: new Date(result.expiresAt).toISOString(), resources: resources ?? null }, 201);
  })
  .get("/", admin, async (c) => {
    const hub = registryHub(c.env);
    const { records, online } = await hub.listConnectors();
    const isOnline = new Set(online);
    const byId = new Map(records.map((r) => [r.id, view(r, isOnline.has(r.id))]));
    // Bootstrap connectors that were never revoked have no registry record.
    for (const k of gatewayConfig(c.env).connectors) {
      if (!byId.has(k.id)) {
        byId.set(k.id, {
          id: k.id, source: "configuration", status: "active", online: isOnline.has(k.id), thumbprint: null,
          enrolled_at: null, enrolled_by: null, rotated_at: null, revoked_at: null, revoked_by: null,
          resources: k.resources ?? null, bound_at: null, bound_by: null,
        });
      } else if (byId.get(k.id)!.source === "configuration") {
        byId.get(k.id)!.resources = k.resources ?? null;
      }
    }
    return c.json({ connectors: [...byId.values()].sort((a, b) => a.id.localeCompare(b.id)) });
  })
  /**
   * Change an enrolled connector's binding (`resources`: patterns, or null for any name). Recorded
   * in its record (bound_at, bound_by); its control channels are closed on every shard so its next
   * hello is judged under the new binding, and the live sessions it serves for resources outside
   * the new binding are ended (as a revocation ends them all).
   */
  .post("/:id/bind", admin, async (c) => {
    const id = c.req.param("id");
    if (!CONNECTOR_ID.test(id)) throw new BadRequestError("invalid connector id");
    const body = (await c.req.json().catch(() => null)) as { resources?: unknown } | null;
    if (!body || !("resources" in body)) throw new BadRequestError("resources is missing: a list of resource name patterns, or null for any name");
    const resources = bindingOf(body.resources, true) ?? null;
    if (gatewayConfig(c.env).connectors.some((k) => k.id === id)) {
      throw new GatewayError(409, "conflict", `connector ${id} is configured in GATEHOUSE_CONNECTORS: change its "resources" field there`);
    }
    const who = `${c.var.identity.issuer} ${c.var.identity.subject}`;
    const result = await registryHub(c.env).bindConnector(id, resources, who);
    if (!result.ok) throw new GatewayError(result.status, result.error, result.reason);
    if (result.failedShards.length > 0) {
      throw new GatewayError(
        502,
        "bind_incomplete",
        `connector ${id}'s binding is changed, but hub shard(s) ${result.failedShards.join(", ")} did not confirm closing its control channels and ending its sessions outside the binding (retried in the background); run the bind again to confirm`,
      );
    }
    return c.json({ ...view(result.record, false), closed_control_channels: result.closedChannels, ended_sessions: result.endedSessions });
  })
  .post("/:id/revoke", admin, async (c) => {
    const id = c.req.param("id");
    if (!CONNECTOR_ID.test(id)) throw new BadRequestError("invalid connector id");
    const who = `${c.var.identity.issuer} ${c.var.identity.subject}`;
    const hub = registryHub(c.env);
    const result = await hub.revokeConnector(id, who, gatewayConfig(c.env).connectors.map((k) => k.id));
    if (!result.ok) throw new GatewayError(result.status, result.error, result.reason);
    // Revoked (no shard admits it again), but a hub shard did not confirm closing its channels and
    // ending its sessions: not a success to report. Shard 0 asks that shard again by itself, and
    // running the revoke again asks every shard again.
    if (result.failedShards.length > 0) {
      throw new GatewayError(
        502,
        "revocation_incomplete",
        `connector ${id} is revoked and refused from now on, but hub shard(s) ${result.failedShards.join(", ")} did not confirm closing its control channels and ending its sessions (retried in the background); run the revoke again to confirm`,
      );
    }
    return c.json({
      ...view(result.record, false),
      already_revoked: result.already,
      closed_control_channels: result.closedChannels,
      ended_sessions: result.endedSessions,
    });
  });
