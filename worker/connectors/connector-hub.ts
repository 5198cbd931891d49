/**
 * The connector hub: the Durable Object that holds connectors' control channels (hibernating
 * WebSockets — a connector idles most of the time) and knows which connector serves which
 * resource. Sessions ask it to have a connector dial a data stream for them.
 *
 * A hosted tenant with `shards.hub` > 1 has several (hub-shards.ts): shard 0 also keeps the
 * connector registry; each shard holds the resources that hash to it, and refuses a hello naming
 * any other (shard 0 instead tells the connector where its other resources live).
 */
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";
import { encodeControl, FrameType, type Frame } from "../../parsers/tunnel/frames.ts";
import type { ResourceInfo } from "../../parsers/identity.ts";
import { GatehouseObject, CLOSE_POLICY } from "../objects/gatehouse-object.ts";
import type { Env } from "../env.ts";
import type { BindResult, ClaimResult, ConnectorHubRpc, OpenStreamResult, RevokeResult } from "../bindings.ts";
import { bindingAllows, outsideBinding, parseBinding } from "../../parsers/connector-binding.ts";
import { ConnectorRegistry, type ConnectorRecord, type RegistryResult } from "./registry.ts";
import type { JWK } from "jose";
import { isResourceName } from "../../parsers/resource-name.ts";
import { CONNECTOR_BINDING_GENERATION_HEADER, CONNECTOR_BINDING_HEADER, CONNECTOR_KEY_GENERATION_HEADER, HUB_SHARD_HEADER, hubShard, hubShardCount, hubShardMap, hubShardOfObjectName } from "./hub-shards.ts";
import { withTimeout } from "../objects/with-timeout.ts";
import { newStreamTicket, streamTicketHash } from "../../parsers/tunnel/stream-ticket.ts";
import { isNewerOrSame, type TenantSyncAnswer, type TenantSyncState } from "../tenancy/tenant-sync.ts";

interface ControlAttachment {
  connectorId: string;
  /** The shard this socket was routed to (0 for an unsharded hub; absent on sockets older than shards). */
  shard?: number;
  connectedAt: number;
  resources: ResourceInfo[] | null;
  /** The admitting key's generation (the route's header; absent for a connector without an enrolled key). */
  keyGeneration?: number;
  /** The resource names it may announce (globs; the route's header). Absent: any name. */
  binding?: string[];
  /** That binding's generation (enrolled connectors; absent: 0). */
  bindingGeneration?: number;
}


const MAX_RESOURCES = 1000;
/** Storage key of the suspension a platform administrator told this hub shard about (hosted mode). */
const SUSPENDED_KEY = "tenant-suspended";
/** Storage key of the tenant's lifecycle state as last told, with the record's version (tenant-sync.ts). */
const LIFECYCLE_KEY = "tenant-lifecycle";
/** The generation (rotatedAt) of the latest key rotation of a connector this shard was told of (closeControls). */
const keyGenerationKey = (id: string) => `key-generation:${id}`;
/**
 * A change that closes a connector's older control channels on every shard (a key rotation, a
 * binding change). Shard 0 keeps `<kind>-pending:<id>:<shard>` (value: the change's generation)
 * until that shard confirms; its alarm asks again.
 */
type OwedClose = "rotate" | "rebind";
const pendingCloseKey = (kind: OwedClose, id: string, shard: number) => `${kind}-pending:${id}:${shard}`;
/** The generation (boundAt) of the latest binding change of a connector this shard was told of (closeForRebind). */
const bindingGenerationKey = (id: string) => `binding-generation:${id}`;
/**
 * A session a connector serves: `live:<connector>:<session>`, written by openStream before the
 * stream ticket leaves, so a revocation or a binding change ends it. The value is the time and the
 * resource; records written before the resource was kept hold the time alone (a number).
 */
type LiveRecord = number | { at: number; resource: string };
const liveAt = (r: LiveRecord) => (typeof r === "number" ? r : r.at);

export class ConnectorHub extends GatehouseObject<Env> implements ConnectorHubRpc {
  protected override readonly hibernate = true;
  /** Which of the tenant's hub shards this object is: only shard 0 keeps the registry (hub-shards.ts). */
  private readonly shard = hubShardOfObjectName(this.ctx.id.name);

  override async fetch(request: Request): Promise<Response> {
    const connectorId = request.headers.get("x-gatehouse-connector");
    if (!connectorId || request.headers.get("upgrade") !== "websocket") return new Response("bad hub request", { status: 400 });
    const shard = Number(request.headers.get(HUB_SHARD_HEADER) ?? "0");
    // Hosted mode: a tenant suspended since the admission (or served by an isolate whose cached
    // record is older than the suspension) gets no control channel here.
    const suspended = await this.suspension();
    if (suspended !== null) return Response.json({ error: "tenant_suspended", reason: suspended }, { status: 403 });
    // Admission was claimed on shard 0 a moment ago; a revocation since then (or under way) must not let it in.
    if (await this.revocationKnown(connectorId)) return Response.json({ error: "unauthorized", reason: `connector ${connectorId} was revoked` }, { status: 401 });
    // The same for a key rotation: admitted with the old key just before it, the socket may arrive
    // here after the rotation closed the connector's channels. closeControls records the new key's
    // generation before it closes them, so either this check sees it and refuses the older key, or
    // the socket is accepted (nothing is awaited after the check) before the close, which closes it
    // with the others. Compared as generations, not keys: a shard that missed a rotation (its
    // closeControls failed) knows an older one only, and still admits the current key.
    const presented = request.headers.get(CONNECTOR_KEY_GENERATION_HEADER);
    if (presented !== null) {
      const latest = await this.ctx.storage.get<number>(keyGenerationKey(connectorId));
      if (latest !== undefined && !(Number(presented) >= latest)) return Response.json({ error: "unauthorized", reason: `connector ${connectorId}'s key was rotated; dial again with the new key` }, { status: 401 });
    }
    // The same for a binding change: admitted under the binding it replaced, refused.
    const boundAs = request.headers.get(CONNECTOR_BINDING_GENERATION_HEADER);
    if (boundAs !== null) {
      const latest = await this.ctx.storage.get<number>(bindingGenerationKey(connectorId));
      if (latest !== undefined && !(Number(boundAs) >= latest)) return Response.json({ error: "unauthorized", reason: `connector ${connectorId}'s binding was changed; dial again` }, { status: 401 });
    }
    // The binding the route read with the admission. Unreadable: refused (fail closed), never "any".
    let binding: string[] | undefined;
    const bindingHeader = request.headers.get(CONNECTOR_BINDING_HEADER);
    if (bindingHeader !== null) {
      try {
        binding = parseBinding(JSON.parse(bindingHeader), "binding");
      } catch {}
      if (binding === undefined) return new Response("bad hub request: binding", { status: 400 });
    }
    const attachment: ControlAttachment = {
      connectorId,
      shard,
      connectedAt: Date.now(),
      resources: null,
      ...(presented !== null && Number.isFinite(Number(presented)) ? { keyGeneration: Number(presented) } : {}),
      ...(binding === undefined ? {} : { binding }),
      ...(boundAs !== null && Number.isFinite(Number(boundAs)) ? { bindingGeneration: Number(boundAs) } : {}),
    };
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
      const announced = validateResources(msg.resources);
      if (typeof announced === "string") {
        this.closeSocket(ws, CLOSE_POLICY, `invalid hello: ${announced}`);
        return;
      }
      // The connector's binding: a hello (first or re-announcement) naming any resource outside it
      // is refused whole — the socket is closed and nothing of it is registered, so a compromised
      // connector never becomes the one serving another connector's resource.
      const refused = outsideBinding(attachment.binding, announced.map((r) => r.name));
      if (refused.length > 0) {
        const names = refused.slice(0, 3).join(", ") + (refused.length > 3 ? ` and ${refused.length - 3} more` : "");
        this.closeSocket(ws, CLOSE_POLICY, `connector ${attachment.connectorId} is not bound to serve ${names}`.slice(0, 120));
        console.warn(`gatehouse: connector ${attachment.connectorId} announced resource(s) outside its binding (${attachment.binding!.join(",")}): ${refused.join(", ")}; its control channel was closed`);
        return;
      }
      // Sockets accepted before shards existed carry no shard: they are shard 0's.
      const resources = this.heldHere(ws, attachment.shard ?? 0, announced);
      if (resources === null) return;
      ws.serializeAttachment({ ...attachment, resources } satisfies ControlAttachment);
      // Remember the last advertised shape, so a resource can be described while its connector is offline.
      await this.ctx.storage.put(Object.fromEntries(resources.map((r) => [`resource:${r.name}`, { ...r, connectorId: attachment.connectorId }])));
    } else if (msg.t === "ping") {
      ws.send(encodeControl({ t: "pong" }));
    }
  }

  /**
   * The announced resources this shard holds. Unsharded: all of them. Shard 0 of a sharded hub
   * holds its own and tells the connector where the others live (`shards`), so it can dial them;
   * any other shard refuses a hello naming a resource it does not hold (closed, 1008).
   */
  private heldHere(ws: WebSocket, shard: number, announced: ResourceInfo[]): ResourceInfo[] | null {
    const count = hubShardCount(this.env);
    if (count === 1) return announced;
    const map = hubShardMap(
      announced.map((r) => r.name),
      count,
    );
    if (shard === 0) {
      ws.send(encodeControl({ t: "shards", count, map }));
      return announced.filter((r) => map[r.name] === 0);
    }
    const foreign = announced.find((r) => map[r.name] !== shard);
    if (foreign) {
      this.closeSocket(ws, CLOSE_POLICY, `resource ${foreign.name} is not held by hub shard ${shard} (it is on shard ${map[foreign.name]})`);
      return null;
    }
    return announced;
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

  private get registry(): ConnectorRegistry {
    return new ConnectorRegistry(this.ctx.storage);
  }

  /**
   * RPC: admit a verified connector assertion. Refused when the connector is revoked, when the
   * key that verified it (`thumbprint`, null for a GATEHOUSE_CONNECTORS key) is no longer the
   * enrolled connector's current one, or when its jti was seen before (a replay). Checked here,
   * in one object, so a revocation or rotation cannot race an admission. Expired jtis are
   * dropped by the hub's alarm.
   */
  async claimAssertion(connectorId: string, jti: string, exp: number, thumbprint: string | null): Promise<ClaimResult> {
    const suspended = await this.suspension();
    if (suspended !== null) return { ok: false, reason: suspended, suspended: true };
    const admission = await this.registry.admissible(connectorId, thumbprint);
    if (admission.refused !== null) return { ok: false, reason: admission.refused };
    const storageKey = `jti:${connectorId}:${jti}`;
    if ((await this.ctx.storage.get(storageKey)) !== undefined) return { ok: false, reason: "connector assertion was already used" };
    await this.ctx.storage.put(storageKey, exp);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
    // An enrolled key's generation, and its binding with the binding's generation, go with a control socket to its shard (fetch).
    if (admission.keyGeneration === null) return { ok: true };
    return { ok: true, keyGeneration: admission.keyGeneration, bindingGeneration: admission.bindingGeneration ?? 0, ...(admission.resources === null ? {} : { resources: admission.resources }) };
  }

  protected override async onAlarm(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const seen = await this.ctx.storage.list<number>({ prefix: "jti:" });
    const expired = [...seen].filter(([, exp]) => exp + 60 < now).map(([k]) => k);
    for (let i = 0; i < expired.length; i += 128) await this.ctx.storage.delete(expired.slice(i, i + 128));
    await this.registry.sweep();
    // Sessions a connector served, kept so a revocation can end them; a week covers any session.
    const live = await this.ctx.storage.list<LiveRecord>({ prefix: "live:" });
    const stale = [...live].filter(([, r]) => liveAt(r) < Date.now() - 7 * 24 * 3600_000).map(([k]) => k);
    for (let i = 0; i < stale.length; i += 128) await this.ctx.storage.delete(stale.slice(i, i + 128));
    const dropsLeft = await this.retryPendingDrops();
    const rotationsLeft = await this.retryPendingCloses("rotate");
    const rebindsLeft = await this.retryPendingCloses("rebind");
    if (dropsLeft || rotationsLeft || rebindsLeft) await this.ctx.storage.setAlarm(Date.now() + 30_000);
    else if (seen.size > expired.length || live.size > stale.length) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
  }

  /** RPC (admin): store the hash of a new enrolment token for connector `id`. */
  async createEnrolmentToken(tokenHash: string, id: string, ttlSeconds: number, createdBy: string, bootstrapIds: string[], resources?: string[]): Promise<RegistryResult<{ expiresAt: number }>> {
    const result = await this.registry.createToken(tokenHash, id, ttlSeconds, createdBy, bootstrapIds, resources);
    if (result.ok && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
    return result;
  }

  /** RPC (POST /v1/connector/enroll): spend the token and register the connector's public key. */
  async enrolConnector(tokenHash: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>> {
    const suspended = await this.suspension();
    if (suspended !== null) return { ok: false, status: 403, error: "tenant_suspended", reason: suspended };
    return this.registry.enrol(tokenHash, publicKey, thumbprint);
  }

  /** RPC: an enrolled (or revoked) connector's record, for admission. */
  async connectorRecord(id: string): Promise<ConnectorRecord | null> {
    return (await this.registry.record(id)) ?? null;
  }

  /**
   * RPC (admin): every registry record, and which connector ids are online now: a control channel
   * open whose hello this hub accepted. An open socket whose hello is not in (or was refused)
   * serves nothing yet, and "online" is what an operator (or a pipeline's wait loop) takes as
   * "sessions can start".
   */
  async listConnectors(): Promise<{ records: ConnectorRecord[]; online: string[] }> {
    const online = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = ws.deserializeAttachment() as ControlAttachment;
      if (ws.readyState === WebSocket.OPEN && attachment.resources !== null) online.add(attachment.connectorId);
    }
    return { records: await this.registry.list(), online: [...online].sort() };
  }

  /** RPC (POST /v1/connector/rotate-key): the caller proved possession of the old key. */
  async rotateConnectorKey(id: string, oldThumbprint: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>> {
    const result = await this.registry.rotate(id, oldThumbprint, publicKey, thumbprint);
    if (!result.ok) return result;
    // Its open control channels were admitted with the old key, and a session's stream is admitted
    // by the ticket sent over a control channel: left open, whoever else holds the old key would go
    // on being handed sessions. Closed on every shard; the connector dials again with its new key.
    // Sessions already attached go on (their streams were admitted before the rotation).
    // Owed by every shard from before the first is asked, so an eviction mid-way or a shard that
    // fails is asked again by the alarm (as a revocation's drops are) until it confirms.
    const shards = Array.from({ length: hubShardCount(this.env) }, (_, k) => k);
    const generation = result.record.rotatedAt!;
    await this.owePendingCloses("rotate", id, generation, shards);
    await this.closeOlderEverywhere("rotate", id, generation, shards);
    return result;
  }

  /**
   * RPC (admin): change an enrolled connector's binding (null: any name), recorded in its registry
   * record (boundAt, boundBy — as a revocation is), then close its control channels on every shard,
   * as a key rotation does, so its next hello is judged under the new binding, and end the live
   * sessions it serves for resources outside the new binding (those inside go on). Each shard first
   * remembers the binding's generation, so a socket admitted under the old binding that arrives
   * later is refused (fetch). A shard that does not confirm is owed the close (retried by the alarm)
   * and named in `failedShards`.
   */
  async bindConnector(id: string, resources: string[] | null, by: string): Promise<BindResult> {
    const result = await this.registry.bind(id, resources, by);
    if (!result.ok) return result;
    const shards = Array.from({ length: hubShardCount(this.env) }, (_, k) => k);
    const generation = result.record.boundAt!;
    await this.owePendingCloses("rebind", id, generation, shards);
    const closed = await this.closeOlderEverywhere("rebind", id, generation, shards, result.record.resources ?? null);
    return { ok: true, record: result.record, closedChannels: closed.closedChannels, endedSessions: closed.endedSessions, failedShards: closed.failedShards };
  }

  /**
   * RPC (shard 0 to every shard, after a binding change): remember the binding's generation, then
   * close the connector's control channels admitted under an older binding (a retry leaves those
   * dialled since alone), and end the live sessions it serves here for a resource outside
   * `binding` (null: any name, none ended). Two changes' calls out of order keep the later
   * generation; shard 0 sends the binding current when it asks, so a late call ends nothing the
   * current binding allows. A session whose record predates kept resources (it was started before
   * this version, so by a Durable Object since restarted: over) is ended too — it cannot be shown
   * to be inside the binding.
   */
  async closeForRebind(id: string, bindingGeneration: number, binding: string[] | null): Promise<{ closedChannels: number; endedSessions: number }> {
    const known = await this.ctx.storage.get<number>(bindingGenerationKey(id));
    if (known === undefined || known < bindingGeneration) await this.ctx.storage.put(bindingGenerationKey(id), bindingGeneration);
    const older = (ws: WebSocket) => !(((ws.deserializeAttachment() as ControlAttachment).bindingGeneration ?? 0) >= bindingGeneration);
    const closedChannels = this.closeChannels(id, `connector ${id}'s binding was changed: dial again`, older);
    if (binding === null) return { closedChannels, endedSessions: 0 };
    const endedSessions = await this.endLiveSessions(id, (record) => {
      if (typeof record === "number") return `gatehouse: session ended: connector ${id}'s binding was changed`;
      return bindingAllows(binding, record.resource) ? null : `gatehouse: session ended: connector ${id} is no longer bound to serve ${record.resource}`;
    });
    return { closedChannels, endedSessions };
  }

  /**
   * Record the close as owed by every shard and arm the alarm before any shard is asked (as a
   * revocation does): should this object be evicted mid-way, the alarm still asks them again.
   */
  private async owePendingCloses(kind: OwedClose, id: string, generation: number, shards: number[]): Promise<void> {
    await this.ctx.storage.put(Object.fromEntries(shards.map((k) => [pendingCloseKey(kind, id, k), generation])));
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > Date.now() + 30_000) await this.ctx.storage.setAlarm(Date.now() + 30_000);
  }

  /**
   * Ask `shards` to close the connector's channels older than `generation` (of its key, or of its
   * binding); clear the records of those that confirmed, keep the others for the alarm.
   */
  private async closeOlderEverywhere(kind: OwedClose, id: string, generation: number, shards: number[], binding: string[] | null = null): Promise<{ closedChannels: number; endedSessions: number; failedShards: number[] }> {
    const close = (k: number) => {
      const shard = k === 0 ? this : hubShard(this.env, k);
      return kind === "rotate" ? shard.closeControls(id, generation) : shard.closeForRebind(id, generation, binding);
    };
    const closed = await dropOnShards(hubShardCount(this.env), close, shards);
    const confirmed = shards.filter((k) => !closed.failedShards.includes(k));
    // A later change's record (a larger generation) is that change's to clear.
    const current = await this.ctx.storage.get<number>(confirmed.map((k) => pendingCloseKey(kind, id, k)));
    const done = confirmed.filter((k) => (current.get(pendingCloseKey(kind, id, k)) ?? 0) <= generation).map((k) => pendingCloseKey(kind, id, k));
    if (done.length > 0) await this.ctx.storage.delete(done);
    if (closed.failedShards.length > 0) {
      const what = kind === "rotate" ? "key rotation" : "binding change";
      const undone = kind === "rotate" ? "close its older control channels" : "close its older control channels and end its sessions outside the binding";
      console.error(`gatehouse: ${what} of connector ${id}: hub shard(s) ${closed.failedShards.join(", ")} did not ${undone}; asked again in 30 s`);
      await this.ctx.storage.setAlarm(Date.now() + 30_000);
    }
    return { closedChannels: closed.closedChannels, endedSessions: closed.endedSessions, failedShards: closed.failedShards };
  }

  /** Shard 0's alarm: ask the shards that did not confirm a rotation's or binding change's close again. True while some are left. */
  private async retryPendingCloses(kind: OwedClose): Promise<boolean> {
    const prefix = `${kind}-pending:`;
    const byConnector = new Map<string, { generation: number; shards: number[] }>();
    for (const [key, generation] of await this.ctx.storage.list<number>({ prefix })) {
      const rest = key.slice(prefix.length);
      const at = rest.lastIndexOf(":");
      const id = rest.slice(0, at);
      const entry = byConnector.get(id) ?? { generation, shards: [] };
      entry.generation = Math.max(entry.generation, generation);
      entry.shards.push(Number(rest.slice(at + 1)));
      byConnector.set(id, entry);
    }
    let left = false;
    for (const [id, { generation, shards }] of byConnector) {
      // A binding change's sessions are judged under the binding in the registry now (the latest).
      const binding = kind === "rebind" ? ((await this.registry.record(id))?.resources ?? null) : null;
      if ((await this.closeOlderEverywhere(kind, id, generation, shards, binding)).failedShards.length > 0) left = true;
    }
    return left;
  }

  /**
   * RPC (shard 0 to every shard, after a key rotation): remember the new key's generation, then
   * close the connector's control channels here. Remembered first, so a socket admitted with an
   * older key that arrives later is refused (fetch); two rotations' calls arriving out of order
   * keep the later generation (the larger: rotatedAt only grows, registry.ts).
   */
  async closeControls(id: string, keyGeneration?: number): Promise<{ closedChannels: number; endedSessions: number }> {
    if (keyGeneration !== undefined) {
      const known = await this.ctx.storage.get<number>(keyGenerationKey(id));
      if (known === undefined || known < keyGeneration) await this.ctx.storage.put(keyGenerationKey(id), keyGeneration);
    }
    // Only channels admitted with an older key: a retry (the alarm's) must not close the ones the
    // connector has dialled since with the new key.
    const older = (ws: WebSocket) => keyGeneration === undefined || !((ws.deserializeAttachment() as ControlAttachment).keyGeneration! >= keyGeneration);
    return { closedChannels: this.closeChannels(id, `connector ${id}'s key was rotated: dial again with the new key`, older), endedSessions: 0 };
  }

  /** Close the connector's control channels on this shard (those `which` picks); how many were open. */
  private closeChannels(id: string, reason: string, which: (ws: WebSocket) => boolean = () => true): number {
    let open = 0;
    for (const ws of this.ctx.getWebSockets(`connector:${id}`)) {
      if (!which(ws)) continue;
      if (ws.readyState === WebSocket.OPEN) open++;
      this.closeSocket(ws, CLOSE_POLICY, reason);
    }
    return open;
  }

  /**
   * RPC (admin): revoke a connector. Its next assertion is refused (claimAssertion), its control
   * channels are closed now, and the live sessions it serves are ended — on every shard.
   */
  async revokeConnector(id: string, by: string, bootstrapIds: string[]): Promise<RevokeResult> {
    // Every shard's drop is owed from before the registry says "revoked": a crash, an eviction or
    // a failed shard after that point leaves records the alarm works off (it drops only a
    // connector the registry has revoked, so records of a refused revoke are harmless).
    const count = hubShardCount(this.env);
    const shards = Array.from({ length: count }, (_, k) => k);
    await this.ctx.storage.put(Object.fromEntries(shards.map((k) => [pendingDropKey(id, k), Date.now()])));
    await this.ctx.storage.setAlarm(Date.now() + 30_000);
    const result = await this.registry.revoke(id, by, bootstrapIds);
    if (!result.ok) {
      await this.ctx.storage.delete(shards.map((k) => pendingDropKey(id, k)));
      return result;
    }
    // From here no shard admits the connector again (admission is claimed here). Every shard,
    // this one included, closes its sockets and ends its sessions — asked all at once, each answer
    // awaited (with a time limit) whatever another answers: a shard that fails spares no other.
    const dropped = await this.dropEverywhere(id, shards);
    return { ok: true, record: result.record, already: result.already, closedChannels: dropped.closedChannels, endedSessions: dropped.endedSessions, failedShards: dropped.failedShards };
  }

  /**
   * Drop a revoked connector on `shards`, clear the pending record of each shard that confirmed,
   * and keep the others for the alarm (every 30 s until they confirm; each failure logged).
   */
  private async dropEverywhere(id: string, shards: number[]): Promise<{ closedChannels: number; endedSessions: number; failedShards: number[] }> {
    const dropped = await dropOnShards(hubShardCount(this.env), (k) => (k === 0 ? this.dropLocally(id) : hubShard(this.env, k).dropConnector(id)), shards);
    const confirmed = shards.filter((k) => !dropped.failedShards.includes(k));
    if (confirmed.length > 0) await this.ctx.storage.delete(confirmed.map((k) => pendingDropKey(id, k)));
    if (dropped.failedShards.length > 0) {
      console.error(`gatehouse: revocation of connector ${id}: hub shard(s) ${dropped.failedShards.join(", ")} did not confirm; asked again in 30 s`);
      await this.ctx.storage.setAlarm(Date.now() + 30_000);
    }
    return dropped;
  }

  /** Shard 0's alarm: ask the shards that did not confirm a revocation again. True while some are left. */
  private async retryPendingDrops(): Promise<boolean> {
    const pending = await this.ctx.storage.list<number>({ prefix: "drop-pending:" });
    const byConnector = new Map<string, number[]>();
    for (const key of pending.keys()) {
      const [id, shard] = parsePendingDropKey(key);
      byConnector.set(id, [...(byConnector.get(id) ?? []), shard]);
    }
    let left = false;
    for (const [id, shards] of byConnector) {
      // Written before the registry's revoke: a revoke that did not happen owes no drop.
      if ((await this.registry.record(id))?.revokedAt == null) {
        await this.ctx.storage.delete(shards.map((k) => pendingDropKey(id, k)));
        continue;
      }
      if ((await this.dropEverywhere(id, shards)).failedShards.length > 0) left = true;
    }
    return left;
  }

  /**
   * RPC (shard 0 to the other shards of a sharded hub, on revocation): remember the connector is
   * revoked (a control socket admitted just before is refused on arrival), close its control
   * sockets here and end the sessions it serves for resources of this shard.
   */
  async dropConnector(id: string): Promise<{ closedChannels: number; endedSessions: number }> {
    await this.ctx.storage.put(`revoked:${id}`, Date.now());
    return this.dropLocally(id);
  }

  private async dropLocally(id: string): Promise<{ closedChannels: number; endedSessions: number }> {
    const closedChannels = this.closeChannels(id, `connector ${id} was revoked`);
    const endedSessions = await this.endLiveSessions(id, () => `gatehouse: session ended: connector ${id} was revoked`);
    return { closedChannels, endedSessions };
  }

  /**
   * End the live sessions connector `id` serves on this shard for which `reasonFor` gives a reason
   * (null: the session goes on, and so does its record); how many were still running. The records
   * of the others are dropped; a session that could not be told keeps its record and makes this
   * throw, so the caller's shard counts as not confirmed and is asked again (the alarm).
   */
  private async endLiveSessions(id: string, reasonFor: (record: LiveRecord) => string | null): Promise<number> {
    const live = await this.ctx.storage.list<LiveRecord>({ prefix: `live:${id}:` });
    let ended = 0;
    const done: string[] = [];
    const unreached: string[] = [];
    for (const [key, record] of live) {
      const reason = reasonFor(record);
      if (reason === null) continue;
      const sessionId = key.slice(`live:${id}:`.length);
      const stub = this.env.SESSIONS.get(this.env.SESSIONS.idFromName(sessionId));
      try {
        // false: the session is over already (or never started) — nothing to end.
        if (await stub.terminate("57P01", reason)) ended++;
        done.push(key);
      } catch {
        unreached.push(sessionId); // its record stays: the end is asked again (the caller's alarm)
      }
    }
    for (let i = 0; i < done.length; i += 128) await this.ctx.storage.delete(done.slice(i, i + 128));
    if (unreached.length > 0) throw new Error(`${unreached.length} session(s) served by connector ${id} could not be told to end`);
    return ended;
  }

  /**
   * Hosted mode: why the tenant is suspended, or null. Told by the platform's lifecycle steps
   * (syncTenantSuspension, on every shard) and kept in this object's storage with the record's
   * version, so the hub does not depend on a boundary's cached record: an isolate still serving
   * the tenant from a record older than the suspension gets its connector refused here (control
   * channels, admissions on shard 0 — streams and key rotation too —, enrolment, stream requests).
   */
  private lifecycle: TenantSyncState | null | undefined;
  private async tenantLifecycle(): Promise<TenantSyncState | null> {
    if (this.lifecycle === undefined) {
      const legacy = await this.ctx.storage.get<string>(SUSPENDED_KEY); // written before versions existed
      this.lifecycle = (await this.ctx.storage.get<TenantSyncState>(LIFECYCLE_KEY)) ?? (legacy !== undefined ? { version: -1, suspended: legacy } : null);
    }
    return this.lifecycle;
  }
  private async suspension(): Promise<string | null> {
    return (await this.tenantLifecycle())?.suspended ?? null;
  }

  /**
   * RPC (hosted mode): the tenant's record at `state.version` says suspended (or not). Older
   * versions than the one held are ignored (tenant-sync.ts). Suspended: from now on this shard
   * refuses the tenant's connectors (suspension()), then every control channel is closed with the
   * reason — one call, so no admission can land between the two (the object runs one event at a time).
   */
  async syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer & { closed: number }> {
    const held = await this.tenantLifecycle();
    if (!isNewerOrSame(state, held)) return { applied: false, version: held!.version, closed: 0 };
    await this.ctx.storage.put(LIFECYCLE_KEY, state);
    await this.ctx.storage.delete(SUSPENDED_KEY);
    this.lifecycle = state;
    let closed = 0;
    if (state.suspended !== null) {
      for (const ws of this.ctx.getWebSockets()) {
        if (ws.readyState === WebSocket.OPEN) closed++;
        this.closeSocket(ws, CLOSE_POLICY, state.suspended);
      }
    }
    return { applied: true, version: state.version, closed };
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

  /**
   * RPC: ask the newest connector serving `resource` to dial a stream for `sessionId`. The `open`
   * carries a fresh one-use stream ticket, the answer only its hash: the connector presents the
   * ticket on its stream and the session object checks it, so no stream admission asks shard 0
   * (docs/PROTOCOL.md "Stream admission"). A connector this shard knows to be revoked, or whose
   * drop is still owed, is never chosen.
   */
  async openStream(sessionId: string, resource: string): Promise<OpenStreamResult> {
    const suspended = await this.suspension();
    if (suspended !== null) return { ok: false, reason: suspended };
    for (const ws of this.onlineConnectors(resource)) {
      const connectorId = (ws.deserializeAttachment() as ControlAttachment).connectorId;
      if (await this.revocationKnown(connectorId)) continue;
      const ticket = newStreamTicket();
      const live = `live:${connectorId}:${sessionId}`;
      // Remembered before the ticket leaves, so that revoking this connector (revokeConnector) or
      // narrowing its binding (closeForRebind) ends the session whenever that lands: its stream
      // needs no admission on shard 0. The resource says which binding change ends it.
      await this.ctx.storage.put(live, { at: Date.now(), resource } satisfies LiveRecord);
      try {
        ws.send(encodeControl({ t: "open", session: sessionId, resource, ticket }));
      } catch {
        await this.ctx.storage.delete(live); // that socket died between the check and the send; try the next one
        continue;
      }
      // Swept by the alarm after a week; a resource shard claims no assertions, so it sets its own.
      if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + 5 * 60_000);
      return { ok: true, connectorId, ticketHash: await streamTicketHash(ticket) };
    }
    return { ok: false, reason: `no connector online for resource ${resource}` };
  }

  /**
   * Whether this shard knows `id` is revoked or being revoked: the marker shard 0's drop leaves on
   * the other shards; on shard 0 (the registry) also the revoked record and the `drop-pending`
   * records written before it. A control socket admitted a moment before the revocation may still
   * be open here until the drop closes it: it must not be handed a session (and a ticket).
   */
  private async revocationKnown(id: string): Promise<boolean> {
    if ((await this.ctx.storage.get(`revoked:${id}`)) !== undefined) return true;
    // The registry and the drop-pending records are written on shard 0 only: another shard has
    // neither, and learns of a revocation by the marker above (dropConnector).
    if (this.shard !== 0) return false;
    if ((await this.registry.record(id))?.revokedAt != null) return true;
    return (await this.ctx.storage.list({ prefix: `drop-pending:${id}:`, limit: 1 })).size > 0;
  }
}

/** How long one shard may take to confirm a revocation before it counts as not confirmed. */
export const DROP_TIMEOUT_MS = 10_000;

/**
 * Ask `which` shards (default: every shard but 0) to drop a revoked connector, all at once; the
 * totals of those that confirmed and the shards that did not (threw, were unreachable, or took
 * longer than `timeoutMs`). Shard numbers outside 0..count-1 are ignored.
 */
export async function dropOnShards(
  count: number,
  drop: (shard: number) => Promise<{ closedChannels: number; endedSessions: number }>,
  which: number[] = Array.from({ length: Math.max(0, count - 1) }, (_, i) => i + 1),
  timeoutMs = DROP_TIMEOUT_MS,
): Promise<{ closedChannels: number; endedSessions: number; failedShards: number[] }> {
  const shards = [...new Set(which)].filter((k) => Number.isInteger(k) && k >= 0 && k < count).sort((a, b) => a - b);
  const answers = await Promise.allSettled(shards.map((k) => withTimeout(drop(k), timeoutMs, `hub shard ${k} did not answer in ${timeoutMs} ms`)));
  let closedChannels = 0;
  let endedSessions = 0;
  const failedShards: number[] = [];
  answers.forEach((a, i) => {
    if (a.status === "fulfilled") {
      closedChannels += a.value.closedChannels;
      endedSessions += a.value.endedSessions;
    } else failedShards.push(shards[i]!);
  });
  return { closedChannels, endedSessions, failedShards };
}


/** One record per shard still owing a revoked connector's drop (so two passes never erase each other's). */
function pendingDropKey(id: string, shard: number): string {
  return `drop-pending:${id}:${shard}`;
}

function parsePendingDropKey(key: string): [string, number] {
  const rest = key.slice("drop-pending:".length);
  const at = rest.lastIndexOf(":");
  return [rest.slice(0, at), Number(rest.slice(at + 1))];
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
