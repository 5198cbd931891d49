import { describe, expect, it } from "vitest";
import { shardPlacement } from "./control-channel.ts";

describe("the hub's shards message, as the connector reads it", () => {
  it("takes a count from 1 to 32 and a map of names to shards below it", () => {
    expect(shardPlacement({ t: "shards", count: 3, map: { a: 0, b: 2 } })).toEqual({ count: 3, map: { a: 0, b: 2 } });
    expect(shardPlacement({ t: "shards", count: 1, map: {} })).toEqual({ count: 1, map: {} });
    // A name the map does not carry is absent, whatever Object's prototype has under that name.
    expect(shardPlacement({ t: "shards", count: 2, map: { a: 1 } })?.map.constructor).toBeUndefined();
  });

  it("refuses the whole message when anything is off, so no channel is dialled on a guess", () => {
    for (const bad of [
      { count: 0, map: {} },
      { count: 33, map: {} },
      { count: 2.5, map: {} },
      { count: "3", map: {} },
      { count: 3, map: { a: 3 } },
      { count: 3, map: { a: -1 } },
      { count: 3, map: { a: 1.5 } },
      { count: 3, map: { a: "1" } },
      { count: 3, map: [0, 1] },
      { count: 3, map: null },
      { count: 3 },
    ]) expect(shardPlacement({ t: "shards", ...bad })).toBeNull();
  });
});
