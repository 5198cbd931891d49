/**
 * What the tunnel route hands the SessionObject when a client is admitted. A leaf module: the
 * session's audit opener needs the type too, and importing it from session-object.ts (which opens
 * the audit) made an import cycle.
 */
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";

export interface ClientAdmission {
  sessionId: string;
  identity: Identity;
  resource: ResourceInfo;
  clientAddress: string | null;
  /**
   * The route did not ask the hub what the resource is (only hosted mode's start budget needs that
   * at the edge): the session object asks it together with the policy and the grants, one round
   * trip to the hub fewer in a row. Until then `resource.type` is the client's hint (`?type=`,
   * default postgres), kept when the hub does not know the resource — as the route did.
   */
  describeInSession?: boolean;
}

/** The resource as the hub knows it (the connector's last hello), else the hinted name and type without labels. */
export async function describeResource(hub: { describe(name: string): Promise<ResourceInfo | null> }, hinted: ResourceInfo): Promise<ResourceInfo> {
  const known = await hub.describe(hinted.name);
  return { name: hinted.name, type: known?.type ?? hinted.type, labels: known?.labels ?? {} };
}
