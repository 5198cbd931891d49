/**
 * Typed codec errors. Codecs never touch sockets and never answer the client themselves: the
 * engine (or listener) turns a MysqlCodecError into an ERR packet at its boundary
 * (refusal.ts), so every malformed input has one clear, protocol-native answer.
 */
export type MysqlCodecErrorCode =
  | "truncated" // a field runs past the end of its packet
  | "malformed" // bytes that no valid packet contains
  | "too-large" // a logical packet above the configured bound
  | "sequence" // a packet sequence id out of order
  | "unsupported"; // valid MySQL, but not something the gateway decodes (fail closed)

export class MysqlCodecError extends Error {
  constructor(readonly code: MysqlCodecErrorCode, message: string) {
    super(message);
    this.name = "MysqlCodecError";
  }
}
