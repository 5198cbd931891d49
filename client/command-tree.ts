/**
 * The `gatehouse` command tree: the one list shell completion and "did you mean" read, so both
 * stay in step with what the CLI accepts (client/command-tree.test.ts checks each entry runs).
 */
export const COMMAND_TREE: Readonly<Record<string, readonly string[]>> = {
  connect: [],
  exec: [],
  kubeconfig: [],
  doctor: [],
  login: [],
  logout: [],
  dev: ["token", "issuer"],
  policy: ["test", "validate"],
  approvals: ["list", "show", "approve", "deny"],
  access: ["request", "list", "revoke"],
  sessions: ["list", "show", "replay", "export", "verify"],
  review: ["report"],
  admin: ["policy", "connectors", "tenants", "usage"],
  completion: ["bash", "zsh", "fish"],
  version: [],
  help: [],
};

export const TOP_COMMANDS = Object.keys(COMMAND_TREE);

/** Flags shared by every command, offered by completion everywhere. */
export const GLOBAL_FLAGS = ["--help", "--version"];
