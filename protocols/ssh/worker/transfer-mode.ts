/**
 * File transfer and repository protocols run as commands, and what masking can do with them.
 * Their framing counts bytes, so a match is overwritten with as many `*` bytes (same length), and
 * some are request/response protocols that stall if the gateway holds back the end of a message
 * (it waits for bytes the peer will only send once it got that message):
 *
 * - `scp -f` (legacy `scp -O` download): same length, held like any output — every SCP message
 *   ends in a line end or a NUL byte, which settles what came before, so nothing stalls.
 * - `scp -t` (upload), `rsync --server` receiving (upload), `git-receive-pack` (push): the host
 *   sends acknowledgements, checksums, ref lists and errors, never file contents; same length and
 *   **not held** (each write is masked with the look-back of the previous ones), so the protocol
 *   keeps moving — only when the line is nothing but the upload (wrappers such as sudo aside):
 *   `cat f; scp -t /x` is held like any output.
 * - `rsync --server --sender` (download), `git-upload-pack` / `git-upload-archive` (clone, fetch,
 *   archive), `sftp-server` run as a command: file contents in deltas, compressed packs or SFTP
 *   packets that a byte-stream mask cannot rewrite exactly and validly — **refused** while masking
 *   rules apply (use scp, or the sftp subsystem, whose file contents are masked packet by packet).
 */
import type { ParsedCommandLine } from "../codec/shell/types.ts";

export type TransferMode =
  | { kind: "none" }
  | { kind: "same-length"; hold: boolean }
  | { kind: "unmaskable"; what: string };

/** Commands that only run another one (sudo scp -t …): they print nothing of their own. */
const WRAPPERS = new Set(["sudo", "doas", "env", "nice", "ionice", "nohup", "timeout", "exec", "command", "stdbuf"]);

/** Uploads: request/response protocols whose host output carries no file contents. */
function isUpload(name: string, args: string[]): boolean {
  if (name === "scp") return args.some((a) => /^-[A-Za-z]*t/.test(a));
  if (name === "rsync") return args.includes("--server");
  return name === "git-receive-pack" || (name === "git" && args[0] === "receive-pack");
}

export function transferMode(line: ParsedCommandLine): TransferMode {
  let transfer = false;
  for (const c of line.commands) {
    const args = c.args.map((a) => a.value);
    const name = c.name;
    // Any spelling of --sender (an abbreviation, `--sender=…`): the host's rsync sends files.
    if (name === "rsync" && args.some((a) => (a.length >= 5 && "--sender".startsWith(a)) || a.startsWith("--sender="))) return { kind: "unmaskable", what: "an rsync download" };
    if (name === "git-upload-pack" || name === "git-upload-archive" || (name === "git" && /^upload-(pack|archive)$/.test(args[0] ?? ""))) return { kind: "unmaskable", what: "a git fetch or clone" };
    if (name.endsWith("sftp-server")) return { kind: "unmaskable", what: "sftp-server run as a command" };
    if (name === "scp" || name === "rsync" || isUpload(name, args)) transfer = true;
  }
  if (!transfer) return { kind: "none" };
  // Not holding only for a line that is nothing but an upload: `cat f; scp -t /x` must not
  // release cat's output unheld.
  const onlyUpload = line.commands.every((c) => WRAPPERS.has(c.name) || isUpload(c.name, c.args.map((a) => a.value)));
  return { kind: "same-length", hold: !onlyUpload };
}
