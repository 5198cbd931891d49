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
}
