/**
 * The built-in class of persistence targets (`protected` in `{ ssh: { writes: [protected] } }`):
 * files that make the host run something later — at every login or shell start, on a schedule,
 * at boot, at every program start — or let someone in. Writing one once turns one allowed command
 * into control of every later pipeline.
 *
 * Home-directory entries match in ANY directory (`**∕.bashrc`): the gateway does not know the
 * account's home (nor other accounts'), and an attacker can spell it absolutely (`/var/lib/ci/.bashrc`).
 * Entries ending in `/` protect the directory and everything below it.
 *
 * docs/SSH.md § "Protected paths" is generated from this list (a test keeps them identical).
 */
import { compileGlob, type Glob } from "../../../parsers/policy/glob.ts";

/** In any directory (home directories): names relative to a home. */
export const PROTECTED_HOME_ENTRIES = [
  ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".bash_aliases", ".bash_completion", ".profile", ".kshrc", ".mkshrc", ".cshrc", ".tcshrc", ".login", ".logout",
  ".zshrc", ".zshenv", ".zprofile", ".zlogin", ".zlogout", ".inputrc", ".pam_environment", ".xprofile", ".xinitrc", ".xsession", ".xsessionrc",
  ".gitconfig", ".curlrc", ".wgetrc", ".psqlrc", ".my.cnf", ".mylogin.cnf", ".sqliterc", ".npmrc", ".pythonrc", ".perldb", ".gdbinit", ".vimrc", ".exrc", ".nanorc", ".emacs", ".lesskey", ".screenrc", ".tmux.conf",
  ".ssh/", ".config/fish/", ".config/autostart/", ".config/systemd/", ".config/environment.d/", ".config/git/", ".config/bash/", ".config/zsh/", ".local/share/systemd/",
  ".local/bin/", ".local/lib/", ".local/share/bash-completion/", ".bashrc.d/", ".docker/", ".kube/", ".aws/", ".hgrc", ".git/hooks/", ".git/config", ".gnupg/", ".forward", ".rhosts", ".shosts", ".k5login",
];

/** Absolute system paths. */
export const PROTECTED_SYSTEM_ENTRIES = [
  "/etc/profile", "/etc/profile.d/", "/etc/bash.bashrc", "/etc/bashrc", "/etc/bash_completion", "/etc/bash_completion.d/", "/etc/inputrc", "/etc/zsh/", "/etc/zshrc", "/etc/zshenv", "/etc/zprofile", "/etc/zlogin",
  "/etc/csh.cshrc", "/etc/csh.login", "/etc/environment", "/etc/security/", "/etc/pam.d/", "/etc/ssh/", "/etc/sudoers", "/etc/sudoers.d/", "/etc/passwd", "/etc/shadow",
  "/etc/group", "/etc/gshadow", "/etc/crontab", "/etc/cron.d/", "/etc/cron.hourly/", "/etc/cron.daily/", "/etc/cron.weekly/", "/etc/cron.monthly/", "/etc/cron.allow",
  "/etc/cron.deny", "/etc/anacrontab", "/var/spool/cron/", "/var/spool/anacron/", "/var/spool/at/", "/var/spool/atjobs/", "/etc/at.allow", "/etc/at.deny",
  "/etc/systemd/", "/lib/systemd/", "/usr/lib/systemd/", "/run/systemd/", "/etc/init.d/", "/etc/init/", "/etc/rc.local", "/etc/rc.d/", "/etc/xdg/autostart/",
  "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/ld.so.conf.d/", "/etc/update-motd.d/", "/etc/udev/rules.d/", "/etc/modprobe.d/", "/etc/modules-load.d/",
  "/etc/apt/apt.conf.d/", "/etc/logrotate.d/", "/etc/logrotate.conf", "/etc/polkit-1/", "/etc/X11/Xsession.d/", "/etc/network/if-up.d/", "/etc/dhcp/dhclient-exit-hooks.d/", "/etc/xinetd.d/", "/etc/inittab", "/etc/yum/pluginconf.d/", "/etc/NetworkManager/dispatcher.d/", "/etc/skel/", "/etc/gitconfig", "/etc/ld.so.cache",
  "/usr/local/bin/", "/usr/local/sbin/", "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/lib/x86_64-linux-gnu/security/", "/lib/security/",
  "/root/",
];

function globsFor(entry: string, anywhere: boolean): string[] {
  const escaped = entry.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`);
  const prefix = anywhere ? "**/" : "";
  if (escaped.endsWith("/")) {
    const dir = escaped.slice(0, -1);
    return [`${prefix}${dir}`, `${prefix}${dir}/**`];
  }
  return [`${prefix}${escaped}`];
}

/** The class as Gatehouse globs on canonical paths (`~/…`, `~user/…`, `/…`: protocols/ssh/codec/shell/paths.ts). */
export const PROTECTED_PATH_GLOBS: string[] = [...PROTECTED_HOME_ENTRIES.flatMap((e) => globsFor(e, true)), ...PROTECTED_SYSTEM_ENTRIES.flatMap((e) => globsFor(e, false))];

let compiled: Glob[] | null = null;
export function protectedPathGlobs(): Glob[] {
  compiled ??= PROTECTED_PATH_GLOBS.map((g) => compileGlob(g));
  return compiled;
}

/** A directory into which a subtree write (archive extraction, recursive copy) reaches a home's start-up files. */
export function isHomeLike(path: string): boolean {
  return /^~[^/]*$/.test(path) || /^\/root$/.test(path) || /^\/home\/[^/]+$/.test(path) || /^\/home$/.test(path) || path === "/";
}

/** The docs table (docs/SSH.md § Protected paths). */
export function renderProtectedPathsDoc(): string {
  return [
    "| where | entries |",
    "| --- | --- |",
    `| in any directory (home directories) | ${PROTECTED_HOME_ENTRIES.map((e) => `\`${e}\``).join(" ")} |`,
    `| absolute | ${PROTECTED_SYSTEM_ENTRIES.map((e) => `\`${e}\``).join(" ")} |`,
  ].join("\n");
}
