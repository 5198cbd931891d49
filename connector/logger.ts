/** Minimal structured logging. Nothing secret is ever passed in: no passwords, keys or assertions. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LEVELS)[number];

/** One line per event on stderr: `2026-01-01T00:00:00.000Z info message key=value`. */
export function createStderrLogger(level: LogLevel = "info"): Logger {
  const min = LEVELS.indexOf(level);
  const write = (lvl: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === "string" ? JSON.stringify(v) : String(v)}`).join("") : "";
    process.stderr.write(`${new Date().toISOString()} ${lvl} ${message}${extra}\n`);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * One JSON object per line on stderr ({"ts","level","msg",…fields}), for journald/container log
 * collectors. Field names never override ts/level/msg.
 */
export function createJsonLogger(level: LogLevel = "info", write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = LEVELS.indexOf(level);
  const log = (lvl: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    if (LEVELS.indexOf(lvl) < min) return;
    write(JSON.stringify({ ...fields, ts: new Date().toISOString(), level: lvl, msg: message }) + "\n");
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
