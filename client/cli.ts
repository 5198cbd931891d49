/**
 * The `gatehouse` CLI entry point (bin/gatehouse.mjs → main).
 *   gatehouse connect <resource> ...   tunnel a local port to a resource through the gateway
 *   gatehouse dev token|issuer ...     development-only identity helpers
 *   gatehouse policy ...               policy tooling (client/commands/policy.ts)
 */
import { CliError, UsageError, describeError } from "./errors.ts";
import { connectCommand, CONNECT_USAGE } from "./commands/connect.ts";
import { devCommand } from "./commands/dev.ts";
import { approvalsCommand } from "./commands/approvals.ts";
import { accessCommand } from "./commands/access.ts";
import { sessionsCommand } from "./commands/sessions.ts";
import { reviewCommand } from "./commands/review.ts";
import { adminCommand } from "./commands/admin.ts";
import { execCommand } from "./commands/exec.ts";
import { processIO, type CommandIO } from "./commands/io.ts";
import { CLIENT_VERSION } from "./version.ts";
import { completionCommand } from "./commands/completion.ts";
import { doctorCommand } from "./commands/doctor.ts";
import { loginCommand, logoutCommand } from "./commands/login.ts";
import { kubeconfigCommand } from "./commands/kubeconfig.ts";
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
  gatehouse login [--issuer URL] | logout                                 sign in as a person (browser, PKCE); used when GATEHOUSE_TOKEN is unset
  gatehouse admin connectors enroll-token|list|revoke ...                 connector enrolment (admin role)
  gatehouse doctor [resource]                                              check token, gateway, clock, resource and local tools
  gatehouse completion bash|zsh|fish                                      shell completion script
  gatehouse --version

Listing and show commands take --json. Exit codes: 0 ok, 1 error, 2 usage, 126/255 exec refused/failed
(docs/CLI.md). NO_COLOR disables colour (it is only used on a terminal).

Run "gatehouse <command> --help" for details. Docs: docs/CONFIGURATION.md
`;

/** The policy command loads lazily (it pulls in the policy tooling only when used); a literal
 * specifier so the package build (scripts/build-packages.mjs) bundles it. */
async function runPolicy(argv: string[], io: CommandIO): Promise<number> {
  const { policyCommand } = await import("./commands/policy.ts");
  return policyCommand(argv, io);
}

export async function main(argv: string[], io: CommandIO = processIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "connect":
        return await connectCommand(rest, io);
      case "dev":
        return await devCommand(rest, io);
      case "policy":
        return await runPolicy(rest, io);
      case "approvals":
        return await approvalsCommand(rest, io);
      case "access":
        return await accessCommand(rest, io);
      case "sessions":
        return await sessionsCommand(rest, io);
      case "review":
        return await reviewCommand(rest, io);
      case "admin":
        return await adminCommand(rest, io);
      case "exec":
        return await execCommand(rest, io);
      case "doctor":
        return await doctorCommand(rest, io);
      case "kubeconfig":
        return await kubeconfigCommand(rest, io);
      case "completion":
        return await completionCommand(rest, io);
      case "login":
        return await loginCommand(rest, io);
      case "logout":
        return await logoutCommand(rest, io);
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
      io.stderr(`gatehouse: ${err.message}\n${command === "connect" ? CONNECT_USAGE : 'run "gatehouse --help" for usage'}\n`);
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
