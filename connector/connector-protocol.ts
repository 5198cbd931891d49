/** How a protocol's connector part (protocols/<name>/connector/) plugs into the connector (protocols/registry-connector.ts). */
import type { ResourceConfig } from "./config.ts";
import type { TargetError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { TunnelStreamBase } from "./stream-base.ts";
import type { StreamContext } from "./stream-types.ts";

/** A protocol's connector part: the stream that dials and relays to targets of its resource type. */
export interface ConnectorProtocol {
  /** The protocol module's name (= the resource `type` it serves). */
  readonly name: string;
  createStream(ctx: StreamContext, session: string, resource: string, refusal?: TargetError): TunnelStreamBase;
  /** Once per configured resource of this type when the connector starts (e.g. sweep what an earlier run left). */
  onConnectorStart?(resource: ResourceConfig, opts: { connectTimeoutMs: number; startupTimeoutMs: number; logger: Logger }): Promise<void>;
}
