/**
 * Streams come from the resource type's protocol module (protocols/registry-connector.ts): a
 * session for a resource this connector does not serve is refused with a clear error — never
 * handed to some other protocol's stream, never dialled.
 */
import { describe, expect, it } from "vitest";
import { pgResource, startConnectorStack } from "./stack.ts";

describe("connector: resources it does not serve", () => {
  it("answers an open for an unknown resource with 08001 naming it, and keeps serving", async () => {
    // Never dialled: the refusal needs no target.
    const stack = await startConnectorStack([pgResource("demo-pg", { host: "127.0.0.1", port: 9, database: "d", user: "u", password: "p" })]);
    try {
      const stream = await stack.worker.openStream(stack.control, "no-such-resource");
      expect(await stream.controls.next()).toEqual({ t: "error", code: "08001", message: "gatehouse: resource no-such-resource: not served by connector test-connector" });
      const again = await stack.worker.openStream(stack.control, "still-unknown");
      expect(await again.controls.next()).toMatchObject({ t: "error", code: "08001" });
    } finally {
      await stack.stop();
    }
  });
});
