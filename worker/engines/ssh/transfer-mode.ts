/**
 * File transfer protocols run as commands, and what masking can do with their output:
 *
 * - `scp -f` (legacy `scp -O` download), `scp -t` (upload), `rsync --server` receiving (upload),
 *   `sftp-server` run as a command: the output's framing counts bytes (SCP `C<mode> <size>`
 *   lines, rsync and SFTP length prefixes), so matches are overwritten with the same number of
 *   `*` bytes ("same-length"): sizes stay true and the transfer completes, with the secret
 *   overwritten.
 * - `rsync --server --sender` (an rsync download): file contents travel in rsync's delta format,
 *   possibly compressed (`-z`), and the receiver checks a whole-file checksum, so no rewrite can
 *   be both exact and valid. With masking rules in force it is refused (fail closed).
 */
import type { ParsedCommandLine } from "../../../parsers/shell/types.ts";

export type TransferMode = "none" | "same-length" | "unmaskable";

export function transferMode(line: ParsedCommandLine): TransferMode {
  let mode: TransferMode = "none";
  for (const c of line.commands) {
    const args = c.args.map((a) => a.value);
    // Any spelling of --sender (an abbreviation, `--sender=…`): the host's rsync sends files.
    if (c.name === "rsync" && args.some((a) => (a.length >= 5 && "--sender".startsWith(a)) || a.startsWith("--sender="))) return "unmaskable";
    if (c.name === "scp" || c.name === "rsync" || c.name.endsWith("sftp-server")) mode = "same-length";
  }
  return mode;
}
