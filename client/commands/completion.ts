/**
 * `gatehouse completion bash|zsh|fish` — a completion script for the shell, on stdout, like
 * `gh completion` and `kubectl completion`:
 *   bash:  source <(gatehouse completion bash)            (or write it to /etc/bash_completion.d/)
 *   zsh:   gatehouse completion zsh > "${fpath[1]}/_gatehouse"
 *   fish:  gatehouse completion fish > ~/.config/fish/completions/gatehouse.fish
 * It completes commands and subcommands (client/command-tree.ts); resource names are not
 * completed (that would need a token and the network on every Tab).
 */
import { UsageError } from "../errors.ts";
import { COMMAND_TREE, GLOBAL_FLAGS, TOP_COMMANDS } from "../command-tree.ts";
import { didYouMean } from "../suggest.ts";
import type { CommandIO } from "./io.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;

function bash(): string {
  const cases = Object.entries(COMMAND_TREE)
    .filter(([, subs]) => subs.length > 0)
    .map(([cmd, subs]) => `    ${cmd}) [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W "${subs.join(" ")}" -- "$cur")) ;;`)
    .join("\n");
  return `# gatehouse bash completion — source <(gatehouse completion bash)
_gatehouse() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${TOP_COMMANDS.join(" ")} ${GLOBAL_FLAGS.join(" ")}" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
}
complete -o default -F _gatehouse gatehouse
`;
}

function zsh(): string {
  const cases = Object.entries(COMMAND_TREE)
    .filter(([, subs]) => subs.length > 0)
    .map(([cmd, subs]) => `    ${cmd}) (( CURRENT == 3 )) && compadd -- ${subs.join(" ")} ;;`)
    .join("\n");
  return `#compdef gatehouse
# gatehouse zsh completion — gatehouse completion zsh > "\${fpath[1]}/_gatehouse"
_gatehouse() {
  if (( CURRENT == 2 )); then
    compadd -- ${TOP_COMMANDS.join(" ")} ${GLOBAL_FLAGS.join(" ")}
    return
  fi
  case "\${words[2]}" in
${cases}
    *) _files ;;
  esac
}
compdef _gatehouse gatehouse
`;
}

function fish(): string {
  const lines = [
    "# gatehouse fish completion — gatehouse completion fish > ~/.config/fish/completions/gatehouse.fish",
    "complete -c gatehouse -f",
    `complete -c gatehouse -n __fish_use_subcommand -a "${TOP_COMMANDS.join(" ")}"`,
    "complete -c gatehouse -l help -l version",
  ];
  for (const [cmd, subs] of Object.entries(COMMAND_TREE)) {
    if (subs.length > 0) lines.push(`complete -c gatehouse -n "__fish_seen_subcommand_from ${cmd}; and not __fish_seen_subcommand_from ${subs.join(" ")}" -a "${subs.join(" ")}"`);
  }
  return `${lines.join("\n")}\n`;
}

export function completionScript(shell: string): string {
  if (shell === "bash") return bash();
  if (shell === "zsh") return zsh();
  if (shell === "fish") return fish();
  throw new UsageError(`completion: unknown shell ${JSON.stringify(shell)}${didYouMean(shell, SHELLS)}; use bash, zsh or fish`);
}

export async function completionCommand(argv: string[], io: CommandIO): Promise<number> {
  if (argv.length !== 1) throw new UsageError("usage: gatehouse completion bash|zsh|fish");
  io.stdout(completionScript(argv[0]!));
  return 0;
}
