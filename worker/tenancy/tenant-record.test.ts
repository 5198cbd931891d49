import { describe, expect, it } from "vitest";
import { limitsView, parseLimits, parseShards } from "./tenant-record.ts";

describe("tenant limits", () => {
  it("reads every limit by its file name, null when absent", () => {
    const l = parseLimits({ max_sessions: 3, max_requests_per_second: 20, request_burst: 40, max_session_starts_per_minute: 6 });
    expect(l).toEqual({ maxSessions: 3, maxRecordingBytes: null, maxApprovalRequests: null, maxRequestsPerSecond: 20, requestBurst: 40, maxSessionStartsPerMinute: 6, maxApiRequestsPerMinute: null });
    // The API rate is never "none": absent, the view shows the default it runs with.
    expect(limitsView(l)).toEqual({ max_sessions: 3, max_recording_bytes: null, max_approval_requests: null, max_requests_per_second: 20, request_burst: 40, max_session_starts_per_minute: 6, max_api_requests_per_minute: 1200 });
    expect(parseLimits(undefined)).toMatchObject({ maxRequestsPerSecond: null });
  });

  it("max_api_requests_per_minute: the tenant's API calls outside sessions; absent or null = 1200, at least 1", () => {
    expect(parseLimits({ max_api_requests_per_minute: 30 })).toMatchObject({ maxApiRequestsPerMinute: 30 });
    expect(limitsView(parseLimits({ max_api_requests_per_minute: 30 }))).toMatchObject({ max_api_requests_per_minute: 30 });
    expect(limitsView(parseLimits({ max_api_requests_per_minute: null }))).toMatchObject({ max_api_requests_per_minute: 1200 });
    expect(() => parseLimits({ max_api_requests_per_minute: 0 })).toThrow(/max_api_requests_per_minute must be at least 1/);
    expect(() => parseLimits({ max_api_requests_per_second: 5 })).toThrow(/unknown limit "max_api_requests_per_second"/);
  });

  it("refuses what would silently be no limit, or no service", () => {
    // A misspelt limit (or another spelling of a known one) is not ignored.
    expect(() => parseLimits({ max_statements_per_second: 5 })).toThrow(/unknown limit "max_statements_per_second"/);
    expect(() => parseLimits({ MAX_REQUESTS_PER_SECOND: 5 })).toThrow(/unknown limit/);
    expect(() => parseLimits({ max_requests_per_second: "5" })).toThrow(/non-negative integer/);
    expect(() => parseLimits({ max_requests_per_second: 1.5 })).toThrow(/non-negative integer/);
    expect(() => parseLimits({ max_requests_per_second: -1 })).toThrow(/non-negative integer/);
    expect(() => parseLimits({ request_burst: 5 })).toThrow(/needs limits.max_requests_per_second/);
    expect(() => parseLimits({ max_requests_per_second: 0 })).toThrow(/at least 1/);
    expect(() => parseLimits({ max_requests_per_second: 5, request_burst: 0 })).toThrow(/at least 1/);
    expect(() => parseLimits([])).toThrow(/must be an object/);
  });
});

describe("tenant shards", () => {
  it("approvals and hub: 1 to 32 each, default 1; anything else is refused by name", () => {
    expect(parseShards(undefined)).toEqual({ approvals: 1, hub: 1 });
    expect(parseShards({ approvals: 4 })).toEqual({ approvals: 4, hub: 1 });
    expect(parseShards({ hub: 3 })).toEqual({ approvals: 1, hub: 3 });
    expect(parseShards({ approvals: 2, hub: 32 })).toEqual({ approvals: 2, hub: 32 });
    expect(parseShards({})).toEqual({ approvals: 1, hub: 1 });
    expect(() => parseShards({ Approvals: 2 })).toThrow(/unknown "Approvals" \(known: approvals, hub\)/);
    expect(() => parseShards({ hubs: 2 })).toThrow(/unknown "hubs"/);
    for (const bad of [0, 33, 1.5, "2", -1]) expect(() => parseShards({ approvals: bad })).toThrow(/shards.approvals must be an integer from 1 to 32/);
    for (const bad of [0, 33, 1.5, "2", -1, {}]) expect(() => parseShards({ hub: bad })).toThrow(/shards.hub must be an integer from 1 to 32/);
    expect(() => parseShards(3)).toThrow(/must be an object/);
  });
});
