/**
 * `gatehouse exec <ssh-resource> [options] -- <command…>`: run one command on an SSH resource
 * through the gateway, non-interactively, and exit with the remote exit status. Policy refusals
 * (and held approvals, which fail closed for now) print the gateway's reason and exit 126;
 * gateway or target failures (host down, authentication, host key mismatch) exit 255, like ssh.
 *
 * No local SSH server is involved: the command travels as an `ssh.exec` frame. Standard input is
 * forwarded when it is not a terminal; otherwise the remote command gets end-of-file at once.
 */
import { parseArgs } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { resolveTokenSource } from "../auth/token-source.ts";
import { DEFAULT_GATEWAY, GatewayClient, checkResourceName, parseGatewayUrl, tunnelUrl } from "../gateway/api.ts";
import { openTunnel } from "../tunnel/open.ts";
import { watchTokenRenewals } from "../auth/token-renewal.ts";
import { tunnelOpenError } from "../engines/tunnel-open-error.ts";
import { SshTunnel, type TunnelEnd } from "../../protocols/ssh/client/tunnel.ts";
import { CLIENT_VERSION } from "../version.ts";
import { EXIT_GATEWAY_ERROR } from "../../protocols/ssh/codec/frames.ts";
import type { CommandIO } from "./io.ts";

export const EXEC_USAGE = `usage: gatehouse exec <ssh-resource> [options] -- <command> [args…]

Runs one command on an SSH resource through the gateway and exits with its exit status
(126 when the gateway refuses it, 255 when the gateway or the host fails).

options:
  --gateway <url>            gateway URL (env GATEHOUSE_URL, default ${DEFAULT_GATEWAY})
  --audience <aud>           audience to request from the CI OIDC provider (env GATEHOUSE_AUDIENCE)
  --gitlab-id-token-var <v>  GitLab CI id_tokens variable to read (env GATEHOUSE_GITLAB_ID_TOKEN_VAR)
  --no-stdin                 do not forward standard input (the command gets end-of-file at once)
`;

export interface ExecStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function execCommand(argv: string[], io: CommandIO, streams: ExecStreams = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const args = parseArgs(argv, {
    gateway: { kind: "string" },
    audience: { kind: "string" },
    "gitlab-id-token-var": { kind: "string" },
    "no-stdin": { kind: "boolean" },
    help: { kind: "boolean", short: "h" },
  });
  if (args.booleans.has("help")) {
    io.stdout(EXEC_USAGE);
    return 0;
  }
  const [resourceArg, ...words] = args.positionals;
  if (!resourceArg || words.length === 0) throw new UsageError("exec needs a resource and a command: gatehouse exec <resource> -- <command>");
  const resource = checkResourceName(resourceArg);
  // The words are joined with spaces, like ssh does: the remote login shell parses the line (and so does policy).
  const command = words.join(" ");
  const gatewayUrl = parseGatewayUrl(args.strings.get("gateway") ?? io.env.GATEHOUSE_URL ?? DEFAULT_GATEWAY);
  const tokenSource = resolveTokenSource({ env: io.env, audience: args.strings.get("audience"), gitlabIdTokenVar: args.strings.get("gitlab-id-token-var") });
  const token = await tokenSource.getToken();
  const description = await new GatewayClient(gatewayUrl).describeResource(resource, token);
  if (description.type !== "ssh") throw new CliError(`resource ${resource} is a ${description.type} resource; gatehouse exec runs commands on ssh resources`);

  let ws;
  try {
    ws = await openTunnel({ url: tunnelUrl(gatewayUrl, resource), token, clientVersion: CLIENT_VERSION });
  } catch (err) {
    io.stderr(`${tunnelOpenError(err).message}\n`);
    return EXIT_GATEWAY_ERROR;
  }

  return await new Promise<number>((resolve) => {
    let status: number | undefined;
    let channelClosed = false;
    let settled = false;
    const pendingWrites = new Set<Promise<void>>();
    let stopWatchingToken: (() => void) | undefined;
    const settle = (code: number) => {
      if (settled) return;
      settled = true;
      stopWatchingToken?.();
      streams.stdin.removeListener("data", onInput);
      streams.stdin.removeListener("end", onInputEnd);
      if (forwardInput) streams.stdin.pause();
      void Promise.all(pendingWrites).then(() => resolve(code));
    };
    const write = (target: NodeJS.WritableStream, bytes: Uint8Array, done: () => void) => {
      const p = new Promise<void>((r) => target.write(bytes, () => r()));
      pendingWrites.add(p);
      void p.then(() => {
        pendingWrites.delete(p);
        done();
      });
    };
    const tunnel = new SshTunnel(ws, {
      onEnd: (end: TunnelEnd) => {
        if (channelClosed) return settle(status ?? EXIT_GATEWAY_ERROR);
        if (end.code !== "client-closed") io.stderr(`${end.message.startsWith("gatehouse:") ? end.message : `gatehouse: ${end.message}`}\n`);
        settle(status ?? EXIT_GATEWAY_ERROR);
      },
      onPause: () => forwardInput && streams.stdin.pause(),
      onResume: () => forwardInput && streams.stdin.resume(),
    });
    tunnel.start(`gatehouse-exec/${CLIENT_VERSION}`);
    // Renewed identity tokens follow the session (the gateway ends it when its token expires).
    stopWatchingToken = watchTokenRenewals(tokenSource, token, (t) => !tunnel.isEnded && tunnel.control({ t: "token", token: t }), (line) => io.stderr(`${line}\n`));
    const ch = tunnel.openChannel(
      { t: "ssh.exec", command },
      {
        stdout: (bytes, done) => write(streams.stdout, bytes, done),
        stderr: (bytes, done) => write(streams.stderr, bytes, done),
        event: (event) => {
          if (event.t === "exit") status = event.code ?? 128 + signalNumber(event.signal);
          if (event.t === "close") {
            channelClosed = true;
            tunnel.close("command finished");
          }
        },
      },
    );
    const forwardInput = !args.booleans.has("no-stdin") && !streams.stdin.isTTY;
    const onInput = (chunk: Buffer) => tunnel.input(ch, chunk);
    const onInputEnd = () => tunnel.event(ch, { t: "eof" });
    if (forwardInput) {
      streams.stdin.on("data", onInput);
      streams.stdin.once("end", onInputEnd);
      streams.stdin.resume();
    } else {
      tunnel.event(ch, { t: "eof" });
    }
  });
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, ILL: 4, ABRT: 6, FPE: 8, KILL: 9, SEGV: 11, PIPE: 13, ALRM: 14, TERM: 15 };

/** Like a shell: a command killed by signal N exits 128 + N. */
function signalNumber(signal: string | undefined): number {
  return (signal && SIGNALS[signal]) || 127;
}
