/**
 * The state one parse shares between the parser (parse.ts) and the wrapper analysis
 * (wrappers.ts), and the helpers both use to emit commands. Its own module so the two do not
 * import each other: the parser hands itself to wrappers.ts through `ParseContext.parseNested`.
 */
import { SHELL_LIMITS, type ShellCommand } from "./types.ts";
import type { CwdState } from "./paths.ts";

export interface ParseContext {
  out: ShellCommand[];
  /** Set once maxCommands is reached: one unknown is reported and nothing more. */
  full: boolean;
  /** Where relative paths point (cd tracking, paths.ts). */
  cwd: CwdState;
  /** Prefix assignments (`X=1 cmd`) of the simple command being emitted (wrappers.ts puts them on it). */
  prefixEnv?: string[];
  /** The parser itself (parse.ts), for commands nested in commands (`sh -c`, `eval`…): passed in, so wrappers.ts needs no import of parse.ts. */
  parseNested(ctx: ParseContext, text: string, via: string[], depth: number): void;
}

export function pushCommand(ctx: ParseContext, command: ShellCommand): void {
  if (ctx.full) return;
  if (ctx.out.length >= SHELL_LIMITS.maxCommands) {
    ctx.full = true;
    ctx.out.push({ kind: "unknown", name: "", path: "", args: [], via: command.via, reason: `more than ${SHELL_LIMITS.maxCommands} commands in one line` });
    return;
  }
  ctx.out.push(command);
}

export function pushUnknown(ctx: ParseContext, via: string[], reason: string): void {
  pushCommand(ctx, { kind: "unknown", name: "", path: "", args: [], via: [...via], reason });
}

/**
 * Assignments that change which program later commands run, or inject code into shells. Also the
 * variables programs read a command from (GIT_SSH_COMMAND, GIT_CONFIG_*, PAGER, EDITOR, LESSOPEN,
 * TAR_OPTIONS, RSYNC_RSH…) or their configuration (HOME, XDG_CONFIG_HOME: ~/.gitconfig core.fsmonitor).
 */
export const SENSITIVE_VARIABLES = /^(PATH|LD_[A-Z_]+|BASH_ENV|ENV|IFS|SHELLOPTS|BASHOPTS|PS4|PROMPT_COMMAND|GLOBIGNORE|BASH_FUNC_.*|BASH_LOADABLES_PATH|EXECIGNORE|PYTHONPATH|PYTHONSTARTUP|PYTHONUSERBASE|PYTHONINSPECT|PYTHONPYCACHEPREFIX|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|LUA_INIT.*|LUA_PATH.*|LUA_CPATH.*|PHPRC|PHP_INI_SCAN_DIR|HGRCPATH|GNUPGHOME|OPENSSL_CONF|OPENSSL_ENGINES|OPENSSL_MODULES|LESS|SYSTEMD_LESS|PERL5LIB|PERL5OPT|RUBYOPT|NODE_OPTIONS|GCONV_PATH|HOSTALIASES|SIMPLE_BACKUP_SUFFIX|VERSION_CONTROL|CDPATH|GIT_[A-Z0-9_]+|[A-Z_]*PAGER|[A-Z_]*EDITOR|VISUAL|LESSOPEN|LESSCLOSE|LESSKEY|BROWSER|[A-Z_]*ASKPASS|TAR_OPTIONS|RSYNC_RSH|RSYNC_CONNECT_PROG|ZIPOPT|HOME|XDG_CONFIG_HOME|XDG_CONFIG_DIRS|CURL_HOME|WGETRC|SYSTEMWGETRC|PSQLRC|MYSQL_HOME|LIBMYSQL_PLUGIN_DIR|MARIADB_PLUGIN_DIR|SHELL|PYTHONHOME|PERLLIB|PERL5DB|RUBYLIB|NODE_PATH|MANOPT|SSH_AUTH_SOCK)$/;
/**
 * bash evaluates a variable named in arithmetic as an expression, and an array subscript in that
 * value runs command substitutions (`x='a[$(cmd)]'; echo $((x))`, or x read from stdin): arithmetic
 * on names is code the gateway cannot see.
 */
export const ARITHMETIC_NAME = /[A-Za-z_]/;
export const ARITHMETIC_REASON = "arithmetic on a variable evaluates its value as code (a[$(…)] in it runs commands)";
