/** Protocol engines by resource type. Adding a protocol = one engine + one line here. */
import type { Engine, EngineHost } from "./engine.ts";
import { PostgresEngine } from "../../protocols/postgres/worker/postgres-engine.ts";
import { pgFramerModule } from "../wasm-modules.ts";
import { createSessionMasker } from "../masking/session-masker.ts";
import { SshEngine, sshTextMask } from "../../protocols/ssh/worker/index.ts";

const engines: Record<string, (host: EngineHost) => Engine> = {
  postgres: (host) => new PostgresEngine(host, { framerModule: pgFramerModule, masker: createSessionMasker(host) }),
  ssh: (host) => new SshEngine(host, { textMask: () => sshTextMask(host) }),
};

export function createEngine(type: string, host: EngineHost): Engine {
  const factory = engines[type];
  if (!factory) return new UnsupportedEngine(host, type);
  return factory(host);
}

/** A resource type this gateway has no engine for: refuse at once (never relay unchecked bytes). */
class UnsupportedEngine implements Engine {
  constructor(
    private readonly host: EngineHost,
    private readonly type: string,
  ) {}
  async onClientData(): Promise<void> {
    this.host.end({ status: "error", reason: `gatehouse: resource type ${this.type} is not supported by this gateway`, code: "unsupported" });
  }
  async onConnectorData(): Promise<void> {}
  async onConnectorControl(): Promise<void> {}
  onConnectorLost(): void {}
  onTerminate(_code: string, reason: string): void {
    this.host.end({ status: "error", reason });
  }
  cancel(): void {}
}
