/**
 * Connector-facing routes. A connector authenticates its control channels (and key rotation) with a
 * fresh Ed25519-signed assertion, admitted by the registry on hub shard 0 (docs/PROTOCOL.md). A
 * session's stream presents the one-use stream ticket the hub sent over that admitted control
 * channel, checked by the session object alone; connectors older than tickets still dial streams
 * with a session-bound assertion, admitted as before.
 */
import { Hono } from "hono";
import { decodeProtectedHeader } from "jose";
import type { Env } from "../env.ts";
import { gatewayConfig, type ConnectorKey } from "../config/gateway-config.ts";
import { verifyConnectorAssertion } from "../auth/verify-connector-assertion.ts";
import { TokenRejected } from "../auth/verify-oidc-token.ts";
import { bearerToken } from "../auth/bearer-identity.ts";
import { BadRequestError, GatewayError, UnauthorizedError } from "../errors.ts";
import { ed25519PublicKey, verifyKeyProof } from "../auth/verify-key-proof.ts";
import { hashEnrolmentToken } from "../connectors/registry.ts";
import { enrolProofSubject, rotateProofSubject, type EnrolResponse } from "../../parsers/tunnel/enrolment.ts";
import { CONNECTOR_HEADER, STREAM_TICKET_HEADER } from "../session/session-object.ts";
import { STREAM_TICKET_PREFIX, isStreamTicket } from "../../parsers/tunnel/stream-ticket.ts";
import { requireTunnelVersion } from "./tunnel.ts";
import { CONNECTOR_BINDING_GENERATION_HEADER, CONNECTOR_BINDING_HEADER, CONNECTOR_KEY_GENERATION_HEADER, HUB_SHARD_HEADER, hubShard, hubShardCount, registryHub } from "../connectors/hub-shards.ts";
import { chargeAnonymousCall, chargeApiRequest, knownAnonymousRefusal } from "../limits/api-rate.ts";
import { verifyWithRegisteredKey } from "../connectors/connector-keys.ts";

/**
 * Verify a connector assertion against the bootstrap keys (GATEHOUSE_CONNECTORS) or, for an
 * enrolled connector, its current registered key; then let the hub admit it (not revoked, key
 * still current, jti unused). Returns the connector id, and the thumbprint and generation of an enrolled key.
 */
async function admitConnector(
  c: { env: Env; req: { header(name: string): string | undefined; raw: Request; path: string } },
  sessionId?: string,
): Promise<{ connectorId: string; thumbprint: string | null; keyGeneration?: number; binding?: string[]; bindingGeneration?: number }> {
  const token = bearerToken(c.req.header("authorization"));
  // The registry (shard 0 of a sharded hub) admits every socket, whichever shard it goes to.
  const hub = registryHub(c.env);
  try {
    const bootstrap = gatewayConfig(c.env).connectors;
    const kid = headerKid(token);
    const verify = (keys: ConnectorKey[]) => verifyConnectorAssertion(token, keys, sessionId === undefined ? {} : { sessionId });
    // Only connectors not in the bootstrap list need the registry: a key cached per isolate, or a
    // lookup charged to the anonymous bucket first (a made-up kid is not free: connector-keys.ts).
    const { connectorId, jti, exp, thumbprint } =
      kid !== undefined && !bootstrap.some((k) => k.id === kid) ? await verifyWithRegisteredKey(c.env, hub, kid, c.req.raw, c.req.path, verify) : { ...(await verify(bootstrap)), thumbprint: null };
    // Each assertion admits one WebSocket: a captured one cannot be replayed within its lifetime.
    const claim = await hub.claimAssertion(connectorId, jti, exp, thumbprint);
    // Hosted mode: the tenant was suspended (this isolate's cached record may not say so yet).
    if (!claim.ok && claim.suspended) throw new GatewayError(403, "tenant_suspended", claim.reason);
    if (!claim.ok) throw new TokenRejected(claim.reason);
    // The binding it is judged under at every hello: an enrolled connector's, read by the registry
    // with the admission; a configured one's, from GATEHOUSE_CONNECTORS (absent: any name).
    const binding = thumbprint === null ? bootstrap.find((k) => k.id === connectorId)?.resources : claim.resources;
    return { connectorId, thumbprint, keyGeneration: claim.keyGeneration, binding, bindingGeneration: claim.bindingGeneration };
  } catch (e) {
    if (e instanceof TokenRejected) throw new UnauthorizedError(e.message);
    throw e;
  }
}

function headerKid(token: string): string | undefined {
  try {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined; // verifyConnectorAssertion says what is wrong
  }
}

function requireUpgrade(c: { req: { header(name: string): string | undefined } }): void {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new GatewayError(426, "upgrade_required", "expected a WebSocket upgrade");
  requireTunnelVersion("connector", c.req.header("sec-websocket-protocol"), c.req.header("user-agent"));
}

const SESSION_ID = /^[0-9a-f-]{36}$/;

export const connectorRoutes = new Hono<{ Bindings: Env }>()
  /** Enrolment: the one-time token proves the right to register its connector id (docs/CONNECTOR.md). */
  .post("/enroll", async (c) => {
    const body = await jsonBody(c.req.raw);
    if (typeof body.token !== "string" || body.token.length > 256) throw new BadRequestError("token (the enrolment token) is missing");
    const tokenHash = await hashEnrolmentToken(body.token);
    const publicKey = publicKeyOf(body.public_key);
    const thumbprint = await rejectedAs401Async(() => verifyKeyProof(body.proof, publicKey, enrolProofSubject(tokenHash)));
    const result = await registryHub(c.env).enrolConnector(tokenHash, publicKey, thumbprint);
    if (!result.ok) throw new GatewayError(result.status, result.error, result.reason);
    return c.json({ id: result.record.id, thumbprint } satisfies EnrolResponse, 201);
  })
  /** Key rotation: authenticated by an assertion signed with the current key, proof of the new one. */
  .post("/rotate-key", async (c) => {
    const { connectorId, thumbprint: old } = await admitConnector(c);
    // A call of the tenant's API by one of its connectors (hosted mode: rate-limited, worker/limits/api-rate.ts).
    const refused = await chargeApiRequest(c.env, "callers", c.req.method, c.req.path);
    if (refused) return refused;
    if (old === null) throw new GatewayError(409, "conflict", `connector ${connectorId} is configured in GATEHOUSE_CONNECTORS; change its key there`);
    const body = await jsonBody(c.req.raw);
    const publicKey = publicKeyOf(body.public_key);
    const thumbprint = await rejectedAs401Async(() => verifyKeyProof(body.proof, publicKey, rotateProofSubject(connectorId, old)));
    const result = await registryHub(c.env).rotateConnectorKey(connectorId, old, publicKey, thumbprint);
    if (!result.ok) throw new GatewayError(result.status, result.error, result.reason);
    return c.json({ id: connectorId, thumbprint } satisfies EnrolResponse);
  })
  /**
   * The control channel to hub shard `?shard=k` (absent: 0, the only shard of an unsharded hub).
   * A sharded tenant's connector keeps one per shard holding one of its resources (docs/PROTOCOL.md).
   */
  .get("/control", async (c) => {
    // Admitted first: the tenant's shard count is told to its own connectors only.
    const { connectorId, keyGeneration, binding, bindingGeneration } = await admitConnector(c);
    const shard = shardParam(c.req.query("shard"), hubShardCount(c.env));
    requireUpgrade(c);
    // The generation of the key that admitted it goes along: a rotation landing between the
    // admission and the upgrade is refused by the shard (connector-hub.ts).
    const headers: Record<string, string> = { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId, [HUB_SHARD_HEADER]: String(shard) };
    if (keyGeneration !== undefined) headers[CONNECTOR_KEY_GENERATION_HEADER] = String(keyGeneration);
    // Its binding too, and the binding's generation: a binding change landing in between is refused the same way.
    if (binding !== undefined) headers[CONNECTOR_BINDING_HEADER] = JSON.stringify(binding);
    if (bindingGeneration !== undefined) headers[CONNECTOR_BINDING_GENERATION_HEADER] = String(bindingGeneration);
    return hubShard(c.env, shard).fetch("https://hub/control", { headers });
  })
  .get("/streams/:session", async (c) => {
    const sessionId = c.req.param("session");
    if (!SESSION_ID.test(sessionId)) throw new GatewayError(400, "bad_request", "invalid session id");
    const presented = bearerToken(c.req.header("authorization"));
    const stub = () => c.env.SESSIONS.get(c.env.SESSIONS.idFromName(sessionId));
    if (presented.startsWith(STREAM_TICKET_PREFIX)) {
      // A stream ticket: judged by the session object, which holds its hash; nothing is asked of
      // the registry (hub shard 0). A malformed one is refused here, before any object is touched.
      if (!isStreamTicket(presented)) throw new UnauthorizedError("malformed stream ticket");
      requireUpgrade(c);
      // Hosted mode: a well-formed ticket is free to make up, and each one reaches (or creates) a
      // session object, which reads the tenant's record from the platform registry when it starts.
      // So a ticket the object refuses is charged to the anonymous bucket (and its address's share)
      // afterwards, and an address already refused reaches no object until its share returns. A
      // valid ticket is never charged: a flood from other addresses does not keep the connector out.
      const known = knownAnonymousRefusal(c.env, c.req.raw);
      if (known) return known;
      const answer = await stub().fetch("https://session/connector", { headers: { upgrade: "websocket", [STREAM_TICKET_HEADER]: presented } });
      if (answer.status !== 401) return answer;
      return (await chargeAnonymousCall(c.env, c.req.raw, c.req.path)) ?? answer;
    }
    // A connector older than stream tickets: a session-bound assertion, admitted on shard 0.
    const { connectorId } = await admitConnector(c, sessionId);
    requireUpgrade(c);
    return stub().fetch("https://session/connector", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId } });
  });

/** `?shard=` of the control route: a decimal integer naming one of the tenant's hub shards. */
function shardParam(value: string | undefined, count: number): number {
  if (value === undefined) return 0;
  const k = /^(0|[1-9][0-9]?)$/.test(value) ? Number(value) : Number.NaN;
  if (!(k < count)) throw new BadRequestError(`shard must be an integer from 0 to ${count - 1} (this gateway's connector hub has ${count} shard${count === 1 ? "" : "s"})`);
  return k;
}

const MAX_BODY_BYTES = 16 * 1024;

async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new BadRequestError(`request body exceeds ${MAX_BODY_BYTES} bytes`);
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new BadRequestError("request body must be a JSON object");
}

function publicKeyOf(value: unknown) {
  try {
    return ed25519PublicKey(value);
  } catch (e) {
    if (e instanceof TokenRejected) throw new BadRequestError(e.message);
    throw e;
  }
}

async function rejectedAs401Async<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof TokenRejected) throw new UnauthorizedError(e.message);
    throw e;
  }
}
