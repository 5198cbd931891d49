/**
 * Client encodings and the lexer.
 *
 * The gateway reads query bytes as UTF-8. That is lexically exact for every encoding PostgreSQL
 * accepts whose multi-byte characters consist of bytes >= 0x80 only (UTF8, the EUC family, LATIN*,
 * WIN125x, KOI8, …): a UTF-8 decoder never swallows an ASCII byte, and every non-ASCII character
 * is an identifier character or string content in both readings.
 *
 * The client-only encodings below put ASCII bytes (0x40–0x7E, e.g. `\` and `;`, or digits) inside
 * multi-byte characters: the server and the gateway would split a string or statement at different
 * places. They are refused at startup, at login and whenever the server reports one.
 *
 * And a pure-ASCII message lexes identically under every client encoding, so only a message with
 * a byte >= 0x80 needs the server's encoding confirmed before it is classified (postgres-engine).
 */

/** PostgreSQL's canonical names (as ParameterStatus reports them) of the unsafe client encodings. */
const UNSAFE_CANONICAL = new Set(["SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "GB18030", "UHC", "JOHAB"]);

/** Their aliases, normalised as PostgreSQL's clean_encoding_name() does (lower case, alphanumerics only). */
const UNSAFE_ALIASES = new Set([
  "sjis", "shiftjis", "mskanji", "win932", "windows932", "cp932", "shiftjis2004",
  "big5", "win950", "windows950", "cp950",
  "gbk", "win936", "windows936", "cp936",
  "gb18030",
  "uhc", "win949", "windows949", "cp949",
  "johab",
]);

/** Is this client_encoding (any spelling PostgreSQL accepts) one whose characters can hide ASCII bytes? */
export function isUnsafeEncoding(name: string): boolean {
  return UNSAFE_CANONICAL.has(name.toUpperCase()) || UNSAFE_ALIASES.has(name.toLowerCase().replace(/[^a-z0-9]/g, ""));
}

export function unsafeEncodingMessage(setting: string, name: string): string {
  return `${setting} ${name} is refused: its multi-byte characters can contain ASCII bytes such as backslash, so the gateway could not read statements exactly as the server does; use UTF8`;
}

/** Does the message body contain a byte >= 0x80? */
export function hasHighByte(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return true;
  return false;
}
