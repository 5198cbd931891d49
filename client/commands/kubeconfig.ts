/**
 * `gatehouse kubeconfig <cluster> [--port N] [--path]` — where the running `gatehouse connect
 * <cluster>` listener wrote its kubeconfig (protocols/kubernetes/client/listener-engine.ts):
 * prints `export KUBECONFIG=<path>` (eval-able), or only the path with --path. The file lives in
 * the listener's private directory and goes away with it, so this finds only live listeners.
 */
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { parseArgs, parsePort } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { checkResourceName } from "../gateway/api.ts";
import { defaultStateDir } from "../listener-auth/state-dir.ts";
import type { CommandIO } from "./io.ts";

export const KUBECONFIG_USAGE = `usage: gatehouse kubeconfig <cluster> [--port N] [--path]
  prints "export KUBECONFIG=<file>" for the running \`gatehouse connect <cluster>\` listener
  (eval "$(gatehouse kubeconfig prod-k8s)"); --path prints the file name only.
`;

export async function kubeconfigCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, { port: { kind: "string" }, path: { kind: "boolean" }, help: { kind: "boolean", short: "h" } });
  if (args.booleans.has("help")) {
    io.stdout(KUBECONFIG_USAGE);
    return 0;
  }
  if (args.positionals.length !== 1) throw new UsageError("kubeconfig needs exactly one cluster (a kubernetes resource name)");
  const cluster = checkResourceName(args.positionals[0]!);
  const port = args.strings.has("port") ? parsePort(args.strings.get("port")!, "--port") : null;
  const dir = path.join(defaultStateDir(io.env), "listeners");
  let entries: string[] = [];
  try {
    entries = await readdir(dir);
  } catch {
    entries = [];
  }
  const found: Array<{ port: number; file: string }> = [];
  for (const e of entries) {
    if (!e.startsWith(`${cluster}-`)) continue;
    const p = Number(e.slice(cluster.length + 1));
    if (!Number.isInteger(p) || String(p) !== e.slice(cluster.length + 1)) continue;
    if (port !== null && p !== port) continue;
    const file = path.join(dir, e, "kubeconfig");
    try {
      if ((await stat(file)).isFile()) found.push({ port: p, file });
    } catch {
      /* not a kubernetes listener, or gone */
    }
  }
  if (found.length === 0) {
    throw new CliError(`no running listener for ${cluster}${port !== null ? ` on port ${port}` : ""}; start one with: gatehouse connect ${cluster} --port ${port ?? 6443}`);
  }
  if (found.length > 1) throw new CliError(`several listeners for ${cluster} (ports ${found.map((f) => f.port).join(", ")}); choose one with --port`);
  io.stdout(args.booleans.has("path") ? `${found[0]!.file}\n` : `export KUBECONFIG=${found[0]!.file}\n`);
  return 0;
}
