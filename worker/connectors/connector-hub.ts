/**
 * The connector hub: one Durable Object that holds every connector's control channel
 * (hibernating WebSockets — a connector idles most of the time) and knows which connector serves
 * which resource. Sessions ask it to have a connector dial a data stream for them.
 */
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import { encodeControl, FrameType, type Frame } from "../../parsers/tunnel/frames.ts";
import type { ResourceInfo } from "../../parsers/identity.ts";
import { GatehouseObject, CLOSE_POLICY } from "../objects/gatehouse-object.ts";
import type { Env } from "../env.ts";
import type { ConnectorHubRpc, OpenStreamResult } from "../bindings.ts";
import { isResourceName } from "../../parsers/resource-name.ts";

interface ControlAttachment {
  connectorId: string;
  connectedAt: number;
  resources: ResourceInfo[] | null;
}


const MAX_RESOURCES = 1000;

export class ConnectorHub extends GatehouseObject<Env> implements ConnectorHubRpc {
  protected override readonly hibernate = true;

  override async fetch(request: Request): Promise<Response> {
    const connectorId = request.headers.get("x-gatehouse-connector");
    if (!connectorId || request.headers.get("upgrade") !== "websocket") return new Response("bad hub request", { status: 400 });
    const attachment: ControlAttachment = { connectorId, connectedAt: Date.now(), resources: null };
    return this.acceptSocket([`connector:${connectorId}`], (ws) => ws.serializeAttachment(attachment));
  }

  protected override async onFrame(ws: WebSocket, frame: Frame): Promise<void> {
    if (frame.type !== FrameType.Control) {
      this.closeSocket(ws, CLOSE_POLICY, "only CONTROL frames are allowed on the control channel");
      return;
    }
    const msg = frame.message;
    const attachment = ws.deserializeAttachment() as ControlAttachment;
    if (msg.t === "hello") {
      // The upgrade already required gatehouse.v1; a hello claiming another version is a confused peer.
      if (msg.version !== TUNNEL_PROTOCOL_VERSION) {
        this.closeSocket(ws, CLOSE_POLICY, `protocol version mismatch: hello says ${String(msg.version).slice(0, 8)}, gateway speaks ${TUNNEL_PROTOCOL_VERSION}`);
        return;
      }
      const resources = validateResources(msg.resources);
      if (typeof resources === "string") {
        this.closeSocket(ws, CLOSE_POLICY, `invalid hello: ${resources}`);
        return;
      }
      ws.serializeAttachment({ ...attachment, resources } satisfies ControlAttachment);
      // Remember the last advertised shape, so a resource can be described while its connector is offline.
      await this.ctx.storage.put(Object.fromEntries(resources.map((r) => [`resource:${r.name}`, { ...r, connectorId: attachment.connectorId }])));
    } else if (msg.t === "ping") {
      ws.send(encodeControl({ t: "pong" }));
    }
  }

  protected override onSocketClose(ws: WebSocket): void {
    this.closeSocket(ws, 1000, "bye");
  }

  protected override onSocketError(): void {}

  private onlineConnectors(resource: string): WebSocket[] {
    return this.ctx
      .getWebSockets()
      .filter((ws) => ws.readyState === WebSocket.OPEN && (ws.deserializeAttachment() as ControlAttachment).resources?.some((r) => r.name === resource))
      .sort((a, b) => (b.deserializeAttachment() as ControlAttachment).connectedAt - (a.deserializeAttachment() as ControlAttachment).connectedAt);
  }

  /**
   * RPC: record a connector assertion's jti until it expires; false when it was seen before
   * (a replayed assertion). Expired entries are dropped by the hub's alarm.
   */
  async claimAssertion(key: string, exp: number): Promise<boolean> {
    const storageKey = `jti:${key}`;
    if ((await this.ctx.storage.get(storageKey)) !== undefined) return false;
    await this.ctx.storage.put(storageKey, exp);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
    return true;
  }

  protected override async onAlarm(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const seen = await this.ctx.storage.list<number>({ prefix: "jti:" });
    const expired = [...seen].filter(([, exp]) => exp + 60 < now).map(([k]) => k);
    for (let i = 0; i < expired.length; i += 128) await this.ctx.storage.delete(expired.slice(i, i + 128));
    if (seen.size > expired.length) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
  }

  /** RPC: what is known about a resource, and whether a connector serving it is online now. */
  async describe(resource: string): Promise<(ResourceInfo & { online: boolean }) | null> {
    const online = this.onlineConnectors(resource);
    if (online.length > 0) {
      const info = (online[0]!.deserializeAttachment() as ControlAttachment).resources!.find((r) => r.name === resource)!;
      return { ...info, online: true };
    }
    const known = await this.ctx.storage.get<ResourceInfo>(`resource:${resource}`);
    return known ? { name: known.name, type: known.type, labels: known.labels, online: false } : null;
  }

  /** RPC: ask the newest connector serving `resource` to dial a stream for `sessionId`. */
  async openStream(sessionId: string, resource: string): Promise<OpenStreamResult> {
    for (const ws of this.onlineConnectors(resource)) {
      try {
        ws.send(encodeControl({ t: "open", session: sessionId, resource }));
        return { ok: true, connectorId: (ws.deserializeAttachment() as ControlAttachment).connectorId };
      } catch {
        // that socket died between the check and the send; try the next one
      }
    }
    return { ok: false, reason: `no connector online for resource ${resource}` };
  }
}

function validateResources(value: unknown): ResourceInfo[] | string {
  if (!Array.isArray(value)) return "resources must be an array";
  if (value.length > MAX_RESOURCES) return `at most ${MAX_RESOURCES} resources`;
  const out: ResourceInfo[] = [];
  for (const r of value) {
    if (typeof r !== "object" || r === null) return "resource must be an object";
    const { name, type, labels } = r as Record<string, unknown>;
    if (!isResourceName(name)) return `invalid resource name ${JSON.stringify(name)}`;
    if (typeof type !== "string" || !/^[a-z0-9-]{1,32}$/.test(type)) return `invalid type for ${name}`;
    const labelMap: Record<string, string> = {};
    if (labels !== undefined) {
      if (typeof labels !== "object" || labels === null || Array.isArray(labels)) return `labels of ${name} must be a map`;
      for (const [k, v] of Object.entries(labels)) {
        if (typeof v !== "string" || k.length > 63 || v.length > 256) return `invalid label ${k} on ${name}`;
        labelMap[k] = v;
      }
    }
    out.push({ name, type, labels: labelMap });
  }
  return out;
}
