import { describe, expect, it } from "vitest";
import { errorResponse, parseErrorFields } from "./codec.ts";

describe("ErrorResponse", () => {
  it("keeps framing whatever the text holds: NULs are dropped, an invalid SQLSTATE becomes 08006", () => {
    const bytes = errorResponse({ severity: "FATAL", code: "bad", message: "a\0b", detail: "x\0" });
    expect(bytes[0]).toBe(0x45);
    expect(new DataView(bytes.buffer).getInt32(1)).toBe(bytes.length - 1);
    const fields = parseErrorFields(bytes.subarray(5));
    expect(Object.fromEntries(fields)).toEqual({ S: "FATAL", V: "FATAL", C: "08006", M: "ab", D: "x" });
  });
});
