/**
 * What a local client is told when the tunnel cannot be opened, as a code (a SQLSTATE, which the
 * PostgreSQL listener sends as is and others map to their protocol) and a message.
 */
import { GatewayHttpError, GatewayUnreachableError, describeError } from "../errors.ts";

/** Map a failure to open the tunnel to what the local client is told. */
export function tunnelOpenError(err: unknown): { code: string; message: string } {
  if (err instanceof GatewayHttpError) {
    const why = err.reason ? `: ${err.reason}` : "";
    if (err.status === 401) return { code: "28000", message: `gatehouse: ${err.error}${why}` };
    if (err.status === 403) return { code: "28000", message: `gatehouse: access denied${why}` };
    if (err.status === 404) return { code: "3D000", message: `gatehouse: unknown resource${why}` };
    // The tenant's session starts per minute, refused at the edge (hosted mode): too_many_connections.
    if (err.status === 429) return { code: "53300", message: err.reason.startsWith("gatehouse:") ? err.reason : `gatehouse: ${err.error}${why}` };
    return { code: "08001", message: `gatehouse: gateway refused the tunnel (HTTP ${err.status} ${err.error})${why}` };
  }
  if (err instanceof GatewayUnreachableError) return { code: "08001", message: `gatehouse: ${err.message}` };
  return { code: "08001", message: `gatehouse: could not open the tunnel: ${describeError(err)}` };
}
