import { afterEach, describe, expect, it, vi } from "vitest";
import { formatLeft, reminderLine, remindUntilDecided } from "./reminders.ts";

afterEach(() => vi.useRealTimers());

describe("approval reminders", () => {
  it("say what waits, for how long and how to approve", () => {
    expect(formatLeft(45_000)).toBe("45s");
    expect(formatLeft(14 * 60_000 + 5_000)).toBe("14m 5s");
    expect(formatLeft(2 * 3600_000 + 3 * 60_000)).toBe("2h 3m");
    expect(formatLeft(-5)).toBe("0s");
    const line = reminderLine("apr_x", Date.parse("2026-12-03T10:15:00Z"), Date.parse("2026-12-03T10:00:00Z"));
    expect(line).toBe("gatehouse: still waiting for approval apr_x (15m 0s left, until 2026-12-03T10:15:00.000Z) — approve with 'gatehouse approvals approve apr_x'");
  });

  it("repeat until stopped or the deadline, and stop when the client is gone", () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const stop = remindUntilDecided("apr_a", Date.now() + 10_000, 3_000, (l) => lines.push(l));
    vi.advanceTimersByTime(9_500);
    expect(lines).toHaveLength(3);
    vi.advanceTimersByTime(10_000);
    expect(lines).toHaveLength(3);
    stop();

    let calls = 0;
    remindUntilDecided("apr_b", Date.now() + 60_000, 1_000, () => {
      calls++;
      throw new Error("closed");
    });
    vi.advanceTimersByTime(5_000);
    expect(calls).toBe(1);
    expect(remindUntilDecided("apr_c", Date.now() + 60_000, 0, () => calls++)).toBeTypeOf("function");
  });
});
