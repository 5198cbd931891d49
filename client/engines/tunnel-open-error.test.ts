import { describe, expect, it } from "vitest";
import { GATEWAY_ERRORS, decodeErr, refusal } from "../../protocols/mysql/codec/responses.ts";
import { GatewayHttpError, GatewayUnreachableError } from "../errors.ts";
import { tunnelOpenError } from "./tunnel-open-error.ts";

describe("tunnelOpenError", () => {
  it("maps the gateway's refusals to SQLSTATEs the listeners send in their own protocol", () => {
    expect(tunnelOpenError(new GatewayHttpError(401, "invalid_token", "expired")).code).toBe("28000");
    expect(tunnelOpenError(new GatewayHttpError(403, "forbidden", "no rule")).code).toBe("28000");
    expect(tunnelOpenError(new GatewayHttpError(404, "not_found", "db")).code).toBe("3D000");
    const starts = tunnelOpenError(new GatewayHttpError(429, "too_many_requests", "gatehouse: the tenant started 5 sessions this minute"));
    expect(starts).toEqual({ code: "53300", message: "gatehouse: the tenant started 5 sessions this minute" });
    expect(tunnelOpenError(new GatewayHttpError(502, "bad_gateway", "")).code).toBe("08001");
    expect(tunnelOpenError(new GatewayUnreachableError("http://127.0.0.1:1", "connection refused")).code).toBe("08001");
  });

  it("a session-start cap reaches a MySQL client as ER_CON_COUNT_ERROR 1040 / 08004 with the reason", () => {
    const packet = refusal("tooManyConnections", "the tenant started 5 sessions this minute");
    expect(decodeErr(packet)).toMatchObject({ code: 1040, sqlState: "08004", message: "gatehouse: the tenant started 5 sessions this minute" });
    expect(GATEWAY_ERRORS.tooManyConnections).toEqual({ code: 1040, sqlState: "08004" });
  });
});
