/**
 * The stream for a session this connector cannot serve (a resource it does not configure, or a
 * type no protocol module's connector part serves): it answers the worker's `open` with an error
 * and ends — nothing is dialled, and no other protocol's stream ever sees the session's bytes.
 */
import type { ControlMessage } from "../parsers/tunnel/frames.ts";
import { StreamProtocolError, TargetError } from "./errors.ts";
import { TunnelStreamBase } from "./stream-base.ts";
import type { StreamContext } from "./stream-types.ts";

export class RefusingStream extends TunnelStreamBase {
  protected readonly protocolErrorCode = "08P01";

  constructor(ctx: StreamContext, session: string, resource: string, refusal: TargetError) {
    super(ctx, session, resource, refusal);
  }

  protected override async connectTarget(open: ControlMessage): Promise<void> {
    if (typeof open.resource !== "string" || open.resource !== this.resourceName) {
      return this.protocolError(new StreamProtocolError(`open names resource ${JSON.stringify(String(open.resource).slice(0, 64))}, expected ${this.resourceName}`, 1008));
    }
    const err = this.refusal!;
    this.ctx.logger.warn("refusing session", { session: this.session, resource: this.resourceName, code: err.code, message: err.message });
    this.sendControl({ t: "error", code: err.code, message: err.message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    this.ws?.close(1000, "target error");
    this.finish(`target error ${err.code}`);
  }

  protected override onOtherControl(): void {}
  protected override onData(): void {}
  protected override pauseTarget(): void {}
  protected override resumeTarget(): boolean {
    return false;
  }
  protected override closeTarget(): void {}
}

/** The refusal for a resource this connector has no stream for. */
export function unservedResource(resource: string, connectorId: string, type: string | undefined): TargetError {
  return new TargetError(
    "08001",
    type === undefined
      ? `gatehouse: resource ${resource}: not served by connector ${connectorId}`
      : `gatehouse: resource ${resource}: type ${JSON.stringify(type)} is not supported by connector ${connectorId}`,
  );
}
