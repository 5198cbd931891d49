/**
 * Typed recording failures. The session Durable Object turns a RecordingError into a client error
 * in the client's own protocol (PostgreSQL ErrorResponse, SQLSTATE `reason` below) and, in
 * fail-closed mode, ends the session: nothing continues unrecorded.
 */
export type RecordingFailure =
  | "persist-failed" // the event could not be written to Durable Object storage
  | "upload-failed" // a sealed chunk could not be written to R2
  | "index-failed" // the D1 session index could not be written
  | "key-unavailable" // no usable audit signing key
  | "session-limit" // a recording limit was reached and policy says end the session
  | "invalid-state"; // misuse: event before start / after end, other session's storage

export class RecordingError extends Error {
  override name = "RecordingError";
  /** PostgreSQL-style SQLSTATE the edge can send: 58030 io_error, 53400 configuration_limit_exceeded, 55000 object_not_in_prerequisite_state. */
  readonly sqlstate: string;
  constructor(
    readonly failure: RecordingFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`gatehouse: session recording failed (${failure}): ${message}`, options);
    this.sqlstate = failure === "session-limit" ? "53400" : failure === "invalid-state" ? "55000" : "58030";
  }
}

export class RecordingLimitError extends RecordingError {
  override name = "RecordingLimitError";
  constructor(message: string) {
    super("session-limit", message);
  }
}
