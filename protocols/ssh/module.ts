/** SSH's runtime-neutral descriptor (listed in protocols/modules.ts). */
import type { ProtocolModule } from "../types.ts";
import { sshActionKind } from "./policy/ssh.ts";

export const sshModule = {
  name: "ssh",
  actionNamespace: "ssh",
  policy: sshActionKind,
  // The CLI's local SSH server reads the tunnel's close frame and tells the ssh client on stderr.
  refusalAtStart: () => [],
} as const satisfies ProtocolModule;
