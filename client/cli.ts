/**
 * The `gatehouse` CLI entry point (bin/gatehouse.mjs → main).
 *   gatehouse connect <resource> ...   tunnel a local port to a resource through the gateway
 *   gatehouse dev token|issuer ...     development-only identity helpers
 *   gatehouse policy ...               policy tooling (client/commands/policy.ts)
 */
import { CliError, UsageError, describeError } from "./errors.ts";
import { processIO, type CommandIO } from "./commands/io.ts";
import { CLIENT_VERSION } from "./version.ts";
import { TOP_COMMANDS } from "./command-tree.ts";
import { EXIT } from "./exit-codes.ts";
import { didYouMean } from "./suggest.ts";

const USAGE = `gatehouse ${CLIENT_VERSION} — access gateway client for CI/CD pipelines

usage:
  gatehouse connect <resource> [--port 5433] [--gateway URL] [--once]   tunnel a local port to a resource
  gatehouse kubeconfig <cluster> [--port N] [--path]                     KUBECONFIG of a running kubernetes listener
  gatehouse exec <ssh-resource> -- <command>                            run one command on an SSH resource
  gatehouse dev token [--sub alice] [--claim k=v ...]                    mint a DEVELOPMENT token
  gatehouse dev issuer                                                    run the DEVELOPMENT OIDC issuer
  gatehouse policy ...                                                    policy tooling
  gatehouse approvals list|show|approve|deny ...                          decide on held statements and grant requests
  gatehouse access request|list|revoke ...                                just-in-time access grants
  gatehouse sessions list|show|replay|export|verify ...                   recorded sessions (auditors)
  gatehouse review report --from T --to T [--format md|csv|json]          access review from the verified trail
  gatehouse admin policy apply <file> | show                              the policy in force (admin role)
  gatehouse login [--gateway URL | --issuer URL] | logout                 sign in as a person (browser, PKCE); used when GATEHOUSE_TOKEN is unset
  gatehouse admin connectors enroll-token|list|bind|revoke ...            connector enrolment (admin role)
  gatehouse doctor [resource]                                              check token, gateway, clock, resource and local tools
  gatehouse completion bash|zsh|fish                                      shell completion script
  gatehouse --version

Listing and show commands take --json. Exit codes: 0 ok, 1 error, 2 usage, 126/255 exec refused/failed
(docs/CLI.md). NO_COLOR disables colour (it is only used on a terminal).

Run "gatehouse <command> --help" for details. Docs: docs/CONFIGURATION.md
`;

type Command = (argv: string[], io: CommandIO) => Promise<number>;

/**
 * Each command's module is loaded only when that command runs: one `gatehouse <cmd>` process
 * (pipelines, the doc runner, shell completion) then parses the code of that command alone — the
 * connect/exec tunnel stack alone costs more start-up than all the others. Literal specifiers, so
 * the package build (scripts/build-packages.mjs) still bundles every command.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  connect: async () => (await import("./commands/connect.ts")).connectCommand,
  dev: async () => (await import("./commands/dev.ts")).devCommand,
  policy: async () => (await import("./commands/policy.ts")).policyCommand,
  approvals: async () => (await import("./commands/approvals.ts")).approvalsCommand,
  access: async () => (await import("./commands/access.ts")).accessCommand,
  sessions: async () => (await import("./commands/sessions.ts")).sessionsCommand,
  review: async () => (await import("./commands/review.ts")).reviewCommand,
  admin: async () => (await import("./commands/admin.ts")).adminCommand,
  exec: async () => (await import("./commands/exec.ts")).execCommand,
  doctor: async () => (await import("./commands/doctor.ts")).doctorCommand,
  kubeconfig: async () => (await import("./commands/kubeconfig.ts")).kubeconfigCommand,
  completion: async () => (await import("./commands/completion.ts")).completionCommand,
  login: async () => (await import("./commands/login.ts")).loginCommand,
  logout: async () => (await import("./commands/login.ts")).logoutCommand,
};

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const load = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (load) return await (await load())(rest, io);
    switch (command) {
      case "--version":
      case "version":
        io.stdout(`${CLIENT_VERSION}\n`);
        return 0;
      case undefined:
      case "help":
      case "--help":
      case "-h":
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, TOP_COMMANDS)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      const usage = command === "connect" ? (await import("./commands/connect.ts")).CONNECT_USAGE : 'run "gatehouse --help" for usage';
      io.stderr(`gatehouse: ${err.message}\n${usage}\n`);
      return EXIT.USAGE;
    }
    // Like ssh, `exec` exits 255 whenever it could not get a command run: the remote command's own
    // statuses (including 1) stay unambiguous.
    const failed = command === "exec" ? EXIT.GATEWAY : EXIT.ERROR;
    if (err instanceof CliError) {
      io.stderr(`gatehouse: ${err.message}\n`);
      return failed;
    }
    io.stderr(`gatehouse: unexpected error: ${describeError(err)}\n`);
    return failed;
  }
}
