/**
 * A shell request without a terminal (`echo 'rm -rf /x' | ssh -T host`) is a shell reading its
 * commands from the client's input — the same thing as `bash <<< …` on an exec channel, which is
 * `unknown`. `ssh.shell` may allow shells as a whole, but where a deny or approve exec rule applies
 * it could have matched what that input runs, so the rule decides (fail closed, issue 14). Shells
 * with a terminal stay decided as a whole (docs/SSH.md).
 */
import type { SshRequest } from "../policy/ssh.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import type { ParsedCommandLine } from "../codec/shell/types.ts";

const REASON = "a shell without a terminal runs the commands the client sends on its input";
const STDIN_SHELL: ParsedCommandLine = { source: "", commands: [{ kind: "unknown", name: "", path: "", args: [], via: [], reason: REASON }], hasUnknown: true };

export function decideShellWithoutTerminal(shell: Decision, decide: (request: SshRequest) => Decision): Decision {
  if (shell.effect !== "allow") return shell;
  const asExec = decide({ kind: "exec", line: STDIN_SHELL });
  // The default deny of exec does not refuse a shell that ssh.shell allows; a named deny/approve rule does.
  if (asExec.rule !== null && asExec.effect !== "allow") return { ...asExec, reason: `${asExec.reason} (${REASON})` };
  return shell;
}
