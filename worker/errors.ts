/**
 * Typed errors of the HTTP edge. Thrown anywhere in the request path; converted to a JSON
 * response only at the boundary (app.onError), with a one-line reason.
 */
export class GatewayError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 410 | 421 | 422 | 426 | 429 | 500 | 502 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class UnauthorizedError extends GatewayError {
  override name = "UnauthorizedError";
  constructor(reason: string) {
    super(401, "unauthorized", reason);
  }
}

export class ForbiddenError extends GatewayError {
  override name = "ForbiddenError";
  constructor(reason: string) {
    super(403, "forbidden", reason);
  }
}

export class BadRequestError extends GatewayError {
  override name = "BadRequestError";
  constructor(reason: string) {
    super(400, "bad_request", reason);
  }
}

export class NotFoundError extends GatewayError {
  override name = "NotFoundError";
  constructor(reason: string) {
    super(404, "not_found", reason);
  }
}

export class ConfigurationError extends Error {
  override name = "ConfigurationError";
}
