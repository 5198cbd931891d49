import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.ts";

describe("durations", () => {
  it("parses units and combinations", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("8h")).toBe(28_800_000);
    expect(parseDuration("1d")).toBe(86_400_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1m5s")).toBe(65_000);
  });

  it("rejects what is ambiguous or absurd", () => {
    for (const bad of ["30", "", "5 m", "5min", "-5m", "1.5h", "0s", "h", "5m ", "400d", "1y"]) {
      expect(() => parseDuration(bad), bad).toThrow(/invalid duration/);
    }
  });

  it("formats back to the shortest form", () => {
    expect(formatDuration(28_800_000)).toBe("8h");
    expect(formatDuration(90_000)).toBe("1m30s");
    expect(formatDuration(1500)).toBe("1s500ms");
  });
});
