/**
 * The one error the HTTP codec throws: what is wrong, and the status the client is answered with.
 * The worker turns it into a problem+json response at the boundary (worker/http-engine.ts) and
 * closes the connection: after a framing error nothing later on the connection can be trusted.
 */
export class HttpCodecError extends Error {
  constructor(
    /** 400 malformed / smuggling shape, 405 refused method, 413 body too large, 414 target too long, 431 head too large, 501 unsupported. */
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpCodecError";
  }
}
