/** HTTP's runtime-neutral descriptor (listed in protocols/modules.ts). */
import type { ProtocolModule } from "../types.ts";
import { httpActionKind } from "./policy/http-policy.ts";

export const httpModule = {
  name: "http",
  actionNamespace: "http",
  policy: httpActionKind,
  // The CLI's local HTTP listener reads the tunnel's close frame and answers the HTTP client with a
  // status and problem+json (protocols/http/client/engine.ts); nothing goes before the close frame.
  refusalAtStart: () => [],
} as const satisfies ProtocolModule;
