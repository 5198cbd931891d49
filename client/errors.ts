/**
 * Typed errors of the `gatehouse` CLI. They are turned into user-facing text (or a PostgreSQL
 * ErrorResponse for a local client) only at the edge — never inside the engines or the tunnel.
 */

/** Bad command line: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure the user can act on (missing token, unreachable gateway…): printed as-is, exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

/** The gateway answered an HTTP request with an error status. `reason` comes from its JSON body. */
export class GatewayHttpError extends CliError {
  override name = "GatewayHttpError";
  constructor(
    readonly status: number,
    readonly error: string,
    readonly reason: string,
  ) {
    super(`gateway answered HTTP ${status}: ${error}${reason ? ` (${reason})` : ""}`);
  }
}

/** The gateway could not be reached at all (connection refused, DNS, TLS…). */
export class GatewayUnreachableError extends CliError {
  override name = "GatewayUnreachableError";
  constructor(
    readonly gateway: string,
    readonly causeText: string,
  ) {
    super(`cannot reach the gateway at ${gateway}: ${causeText}`);
  }
}

/** No identity token could be obtained. */
export class TokenError extends CliError {
  override name = "TokenError";
}

/** Short description of an unknown thrown value, without stack (and never a token). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = (err as { cause?: unknown }).cause;
    if (!code && cause instanceof Error) {
      const causeCode = (cause as NodeJS.ErrnoException).code;
      return causeCode ? `${err.message}: ${causeCode}` : `${err.message}: ${cause.message}`;
    }
    return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
