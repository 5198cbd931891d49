/**
 * Typed errors of the connector. They become wire messages (control `error`, WebSocket close
 * codes) or CLI output only at the edge.
 */

/** The configuration is invalid; `field` is the path of the offending field (e.g. `resources[0].password`). */
export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * The target could not be reached or refused us. `code` is the SQLSTATE reported to the worker
 * (08001 unreachable, 28P01/28000 authentication, 3D000 no database, 08006 lost mid-session).
 * The message must never contain credentials.
 */
export class TargetError extends Error {
  override name = "TargetError";
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** The worker broke the tunnel protocol on one stream. `closeCode` is the WebSocket close code to use. */
export class StreamProtocolError extends Error {
  override name = "StreamProtocolError";
  constructor(
    message: string,
    readonly closeCode: 1002 | 1007 | 1008 | 1009 = 1007,
  ) {
    super(message);
  }
}
