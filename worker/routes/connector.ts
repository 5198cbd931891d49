/**
 * Connector-facing routes. A connector authenticates every WebSocket with a fresh Ed25519-signed
 * assertion (docs/PROTOCOL.md); streams additionally bind the assertion to the session id.
 */
import { Hono } from "hono";
import type { Env } from "../env.ts";
import { gatewayConfig } from "../config/gateway-config.ts";
import { verifyConnectorAssertion } from "../auth/verify-connector-assertion.ts";
import { TokenRejected } from "../auth/verify-oidc-token.ts";
import { bearerToken } from "../auth/bearer-identity.ts";
import { GatewayError, UnauthorizedError } from "../errors.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { requireTunnelVersion } from "./tunnel.ts";

async function admitConnector(c: { env: Env; req: { header(name: string): string | undefined } }, sessionId?: string): Promise<string> {
  const token = bearerToken(c.req.header("authorization"));
  try {
    const { connectorId, jti, exp } = await verifyConnectorAssertion(token, gatewayConfig(c.env).connectors, sessionId === undefined ? {} : { sessionId });
    // Each assertion admits one WebSocket: a captured one cannot be replayed within its lifetime.
    const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName("hub"));
    if (!(await hub.claimAssertion(`${connectorId}:${jti}`, exp))) throw new TokenRejected("connector assertion was already used");
    return connectorId;
  } catch (e) {
    if (e instanceof TokenRejected) throw new UnauthorizedError(e.message);
    throw e;
  }
}

function requireUpgrade(c: { req: { header(name: string): string | undefined } }): void {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new GatewayError(426, "upgrade_required", "expected a WebSocket upgrade");
  requireTunnelVersion("connector", c.req.header("sec-websocket-protocol"), c.req.header("user-agent"));
}

const SESSION_ID = /^[0-9a-f-]{36}$/;

export const connectorRoutes = new Hono<{ Bindings: Env }>()
  .get("/control", async (c) => {
    const connectorId = await admitConnector(c);
    requireUpgrade(c);
    const hub = c.env.CONNECTOR_HUB.get(c.env.CONNECTOR_HUB.idFromName("hub"));
    return hub.fetch("https://hub/control", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId } });
  })
  .get("/streams/:session", async (c) => {
    const sessionId = c.req.param("session");
    if (!SESSION_ID.test(sessionId)) throw new GatewayError(400, "bad_request", "invalid session id");
    const connectorId = await admitConnector(c, sessionId);
    requireUpgrade(c);
    const stub = c.env.SESSIONS.get(c.env.SESSIONS.idFromName(sessionId));
    return stub.fetch("https://session/connector", { headers: { upgrade: "websocket", [CONNECTOR_HEADER]: connectorId } });
  });
