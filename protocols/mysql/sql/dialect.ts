/**
 * The session state the lexer depends on. The engine pins it (session.ts): the values come from
 * the server after login, are cross-checked against the status flags of every OK/EOF, and may only
 * change through statements the gateway understands exactly.
 */
export interface Dialect {
  /** "mariadb" when the server greeting says MariaDB. */
  flavor: "mariadb" | "mysql";
  /** Server version as MMmmpp (10.11.19 → 101119, 8.0.36 → 80036). */
  version: number;
  ansiQuotes: boolean;
  noBackslashEscapes: boolean;
}

export const DEFAULT_DIALECT: Dialect = { flavor: "mariadb", version: 101119, ansiQuotes: false, noBackslashEscapes: false };

/** Parses a server version string from the handshake ("5.5.5-10.11.19-MariaDB-0+deb12u1", "8.0.36"). */
export function dialectFromServerVersion(serverVersion: string): Pick<Dialect, "flavor" | "version"> {
  const mariadb = /mariadb/i.test(serverVersion);
  const v = (mariadb ? serverVersion.replace(/^5\.5\.5-/, "") : serverVersion).match(/^(\d+)\.(\d+)\.(\d+)/);
  if (!v) throw new Error(`cannot read the server version "${serverVersion}"`);
  return { flavor: mariadb ? "mariadb" : "mysql", version: Number(v[1]) * 10000 + Number(v[2]) * 100 + Number(v[3]) };
}

/**
 * Whether the server runs the contents of a version comment (`/*!digits` or `/*M!digits`), as
 * measured against MariaDB 10.11 (the oracle test checks these rules against the server):
 *  - no digits: always code (MariaDB and MySQL alike; MySQL ignores `/*M!`)
 *  - MariaDB, `/*!` + 5 digits: code below 50700, ignored from 50700 to 99999 (MySQL 5.7+ syntax)
 *  - MariaDB, 6 digits (`/*!` or `/*M!`): code when ≤ the server version
 *  - MySQL: `/*!` + 5 or 6 digits: code when ≤ the server version; `/*M!` is a plain comment
 *  - anything else (1–4 or 7+ digits, `/*M!` + 5 digits on MySQL…): "refuse"
 */
export function versionCommentExecuted(d: Dialect, mariadbComment: boolean, digits: string): "code" | "comment" | "refuse" {
  if (d.flavor === "mysql" && mariadbComment) return "comment";
  if (digits === "") return "code";
  if (digits.length !== 5 && digits.length !== 6) return "refuse";
  const v = Number(digits);
  if (d.flavor === "mariadb") {
    if (digits.length === 5 && !mariadbComment) return v < 50700 ? "code" : "comment";
    return v <= d.version ? "code" : "comment";
  }
  return v <= d.version ? "code" : "comment";
}
