/**
 * Options whose value is a file the program writes, for programs whose other arguments the gateway
 * does not need to read (writes.ts adds them to the command's written files, so `writes` rules see
 * `curl --dump-header .bashrc`, `openssl req -keyout ~/.bashrc`, `psql -o ~/.bashrc`).
 *
 * Spellings as getopt reads them: `-DFILE`, `-D FILE`, a short option at the end of a cluster of
 * flags (`-sD FILE`), `--long=FILE`, `--long FILE` and any unique prefix of the long name (curl,
 * wget and the GNU programs accept abbreviations); openssl's single-dash words (`-keyout FILE`).
 * Over-reading is harmless (a value taken for a file name that is not protected), missing one is
 * not: a word only known on the host standing where an option could be may be any of them.
 */
import type { ShellWord } from "./types.ts";

interface WriteOptions {
  /** Short option letters taking a file to write. */
  short?: string;
  /** Long option names (`--name`) taking a file to write; prefixes of at least `min` characters count. */
  long?: string[];
  /** Single-dash words taking a file to write (openssl). */
  words?: string[];
}

/** The files written are named by these options (what they write is the server's or the user's choice). */
const TABLE: Record<string, WriteOptions> = {
  // Response headers, traces, cookies, state files: the server chooses their content.
  curl: { short: "Dc", long: ["dump-header", "cookie-jar", "trace", "trace-ascii", "stderr", "libcurl", "etag-save", "hsts", "alt-svc"] },
  wget: { short: "oa", long: ["output-file", "append-output", "save-cookies", "warc-file", "rejected-log", "hsts-file"] },
  psql: { short: "oL", long: ["output", "log-file"] },
  mysql: { long: ["tee"] },
  mariadb: { long: ["tee"] },
  mysqldump: { short: "r", long: ["result-file", "tab"] },
  pg_dump: { short: "f", long: ["file"] },
  pg_dumpall: { short: "f", long: ["file"] },
  openssl: { words: ["keyout", "writerand", "sess_out", "msgfile", "keylogfile", "reqout", "respout", "certsout", "CAserial", "outdir", "signature_out"] },
};

/** Minimum length of an accepted long-option abbreviation (shorter ones are ambiguous in these programs). */
const MIN_PREFIX = 3;

/** The words naming files written through options, or "unknown" when a word only known on the host may be such an option. */
export function optionWrites(name: string, args: ShellWord[]): ShellWord[] | "unknown" | null {
  const spec = Object.hasOwn(TABLE, name) ? TABLE[name]! : null;
  if (!spec) return null;
  const out: ShellWord[] = [];
  const value = (a: ShellWord, attached: string, i: number) => {
    const v = attached !== "" ? { ...a, value: attached } : args[i + 1];
    if (v) out.push(v);
  };
  // curl --write-out '%output{FILE}…' (or a format read from @FILE) sends what follows into FILE.
  if (name === "curl" && args.some((a, i) => /%output\{/.test(a.value) || (a.value.startsWith("@") && /^(-[A-Za-z]*w|--w)/.test(args[i - 1]?.value ?? "")))) return "unknown";
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.value === "--") break;
    if (a.dynamic && /^[$`]/.test(a.value)) return "unknown";
    if (spec.words) {
      const m = /^--?([A-Za-z_]+)(?:=(.*))?$/s.exec(a.value);
      if (m && spec.words.includes(m[1]!)) value(a, m[2] ?? "", i);
      continue;
    }
    if (a.value.startsWith("--")) {
      const eq = a.value.indexOf("=");
      const key = a.value.slice(2, eq < 0 ? undefined : eq);
      if (key.length >= MIN_PREFIX && (spec.long ?? []).some((l) => l.startsWith(key))) value(a, eq < 0 ? "" : a.value.slice(eq + 1), i);
      continue;
    }
    const short = spec.short ? new RegExp(`^-[A-Za-z0-9]*?[${spec.short}](.*)$`, "s").exec(a.value) : null;
    if (short) value(a, short[1]!, i);
  }
  return out;
}

/** ssh-keygen options taking a value (getopt: attached or the next word). */
const KEYGEN_VALUES = "abCDEFfGIJjKmMNnOPrRstVwYZz";
/** Operations that only read the key file (fingerprint, public key, bubblebabble, find, print, query, export/import to stdout). */
const KEYGEN_READS = "lyBFLQeiD";

/**
 * ssh-keygen writes its -f FILE and FILE.pub (generation, -p, -c, -R, -H, -k…) unless the operation
 * only reads; without -f, generation writes ~/.ssh/id_<type> (or the name it reads from stdin), and
 * -A the host keys under /etc/ssh; signing writes next to its operands.
 */
export function keygenWrites(args: ShellWord[]): ShellWord[] | "unknown" {
  const files: ShellWord[] = [];
  const operands: ShellWord[] = [];
  const modes = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.dynamic && /^[$`]/.test(a.value)) return "unknown";
    if (!a.value.startsWith("-") || a.value === "-") {
      operands.push(a);
      continue;
    }
    for (let j = 1; j < a.value.length; j++) {
      const l = a.value[j]!;
      modes.add(l);
      if (!KEYGEN_VALUES.includes(l)) continue;
      const v = j + 1 < a.value.length ? { ...a, value: a.value.slice(j + 1) } : args[++i];
      if (l === "f" && v) files.push(v, { ...v, value: `${v.value}.pub` });
      break;
    }
  }
  // Signing writes next to its operands: `-Y sign` FILE.sig, `-s` (certificates) NAME-cert.pub.
  if (modes.has("Y")) return operands.map((o) => ({ ...o, value: `${o.value}.sig` }));
  if (modes.has("s")) return operands.map((o) => ({ ...o, value: `${o.value.replace(/\.pub$/, "")}-cert.pub` }));
  if ([...KEYGEN_READS].some((l) => modes.has(l))) return [];
  if (modes.has("A")) return [{ value: "/etc/ssh/ssh_host_key", dynamic: false, glob: false }];
  return files.length > 0 ? files : [{ value: "~/.ssh/id_key", dynamic: true, glob: false }];
}
