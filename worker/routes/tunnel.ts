/**
 * Client-facing routes: resource lookup, the tunnel upgrade, and cancel requests.
 * Every route verifies the OIDC token first (bearerIdentity) — 401 before any Durable Object.
 */
import { Hono } from "hono";
import { offeredTunnelVersions, tunnelVersionMismatch, type VersionPeer } from "../../parsers/tunnel/version.ts";
import { WORKER_RELEASE } from "../version.ts";
import { bearerIdentity, type AppEnv } from "../auth/bearer-identity.ts";
import { BadRequestError, GatewayError, NotFoundError } from "../errors.ts";
import { ADMISSION_HEADER, type ClientAdmission } from "../session/session-object.ts";
import { describeResource } from "../session/admission.ts";
import { ensureSchema } from "../storage/schema.ts";
import { clientAddress } from "./client-address.ts";
import { isResourceName } from "../../parsers/resource-name.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import type { Env } from "../env.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { resourceHub } from "../connectors/hub-shards.ts";

/**
 * Whether the policy could admit `identity` to `resource` at all (any just-in-time grant counted as
 * active): the upper bound of what the session will decide. A policy that cannot be loaded admits
 * nobody (the session says why).
 */
async function couldBeAdmitted(env: Env, identity: Identity, resource: ResourceInfo): Promise<boolean> {
  const policy = await currentPolicy(env).catch(() => undefined);
  return policy !== undefined && policy.decideConnect({ identity, resource, activeGrants: [resource.name] }).effect !== "deny";
}


/**
 * The peer must offer the tunnel protocol version this gateway speaks (Sec-WebSocket-Protocol
 * `gatehouse.v<N>`); otherwise 426 with a message naming both versions and what to upgrade.
 */
export function requireTunnelVersion(peer: VersionPeer, header: string | undefined, userAgent: string | undefined): void {
  const mismatch = tunnelVersionMismatch(peer, offeredTunnelVersions(header), WORKER_RELEASE, userAgent?.slice(0, 80));
  if (mismatch) throw new GatewayError(426, "protocol_version_mismatch", mismatch);
}

/**
 * `/v1/resources/:name` and `/v1/cancel` are calls of the tenant's API (rate-limited: a cancel
 * costs a read of the tenant's database, so it is charged before that read; a role holder's is
 * never refused, like other calls that only stop work); the tunnel belongs to sessions
 * (`max_session_starts_per_minute`).
 */
const admitted = bearerIdentity();
const admittedForSession = bearerIdentity({ api: false });

export const tunnelRoutes = new Hono<AppEnv>()
  .get("/resources/:name", admitted, async (c) => {
    const name = c.req.param("name");
    if (!isResourceName(name)) throw new BadRequestError("invalid resource name");
    const info = await resourceHub(c.env, name).describe(name);
    // Any verified identity may learn a resource's type, labels and whether it is online (the CLI
    // needs the type to pick its engine); whether it may connect is decided per session.
    if (!info) throw new NotFoundError(`unknown resource ${name}`);
    return c.json(info);
  })
  .get("/tunnel/:resource", admittedForSession, async (c) => {
    const name = c.req.param("resource");
    if (!isResourceName(name)) throw new BadRequestError("invalid resource name");
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new GatewayError(426, "upgrade_required", "expected a WebSocket upgrade");
    requireTunnelVersion("client", c.req.header("sec-websocket-protocol"), c.req.header("user-agent"));
    const sessionId = crypto.randomUUID();
    const hinted = { name, type: c.req.query("type") ?? "postgres", labels: {} };
    // Hosted mode: the tenant's session starts per minute, decided before the session object does
    // any work. Only identities the policy could admit to this resource (a just-in-time grant
    // counted as active) are charged: otherwise anyone able to mint a token for the tenant's
    // audience (a CI job of a shared issuer) could use up the budget and lock the tenant's own
    // pipelines out. The others go on to the session, which refuses and records them as before.
    // That check needs the resource's type and labels here; otherwise the session object asks the
    // hub for them, together with the policy and the grants (worker/session/admission.ts).
    const maxStarts = c.env.TENANT?.limits.maxSessionStartsPerMinute;
    const resource = maxStarts != null ? await describeResource(resourceHub(c.env, name), hinted) : hinted;
    if (maxStarts != null && (await couldBeAdmitted(c.env, c.var.identity, resource))) {
      const limiter = c.env.SESSION_LIMITER.get(c.env.SESSION_LIMITER.idFromName("limits"));
      const start = await limiter.admitStart({ sessionId, maxStartsPerMinute: maxStarts, identity: c.var.identity, resource });
      if (!start.ok) {
        c.header("retry-after", String(Math.max(1, Math.ceil(start.retryAfterMs / 1000))));
        throw new GatewayError(429, "session_starts_limited", start.message);
      }
    }
    const admission: ClientAdmission = {
      sessionId,
      identity: c.var.identity,
      resource,
      clientAddress: clientAddress(c.env, c.req.raw.headers, c.req.raw.cf),
      ...(maxStarts != null ? {} : { describeInSession: true }),
    };
    const stub = c.env.SESSIONS.get(c.env.SESSIONS.idFromName(admission.sessionId));
    return stub.fetch("https://session/client", { headers: { upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) } });
  })
  .post("/cancel", admitted, async (c) => {
    const body = await c.req.json<{ pid?: unknown; secret?: unknown }>().catch(() => ({}) as { pid?: unknown; secret?: unknown });
    if (!Number.isInteger(body.pid) || !Number.isInteger(body.secret)) throw new BadRequestError("body must be {pid, secret} integers");
    await ensureSchema(c.env.DB);
    const row = await c.env.DB.prepare("SELECT session_id FROM cancel_keys WHERE pid = ? AND secret = ?").bind(body.pid, body.secret).first<{ session_id: string }>();
    // Same answer whether or not the key exists, like PostgreSQL: a cancel key is not an oracle.
    if (row) {
      const stub = c.env.SESSIONS.get(c.env.SESSIONS.idFromName(row.session_id));
      await stub.cancel({ issuer: c.var.identity.issuer, subject: c.var.identity.subject });
    }
    return c.json({ ok: true }, 202);
  });
