import { describe, expect, it } from "vitest";
import { samplePgSession } from "./fixtures.ts";
import { renderHeader, renderReplay } from "./replay.ts";
import type { AuditEvent } from "./types.ts";

/** The sample session, with `edit` applied, as rendered events (the renderers read type, ts, data). */
function events(edit: (e: Array<{ type: string; ts: number; data: Record<string, unknown> }>) => void): AuditEvent[] {
  const list = samplePgSession("s-1") as unknown as Array<{ type: string; ts: number; data: Record<string, unknown> }>;
  edit(list);
  return list.map((e, seq) => ({ ...e, seq })) as unknown as AuditEvent[];
}

describe("session renderings say what a newcomer needs", () => {
  it("name the connector from session.end when session.start did not know it, never an empty one", () => {
    const late = renderHeader(events((l) => {
      l[0]!.data.connector = "";
      l[l.length - 1]!.data.connector = "dc-9";
    })).join("\n");
    expect(late).toContain("resource:  demo-pg (postgres) via connector dc-9");
    const none = renderHeader(events((l) => (l[0]!.data.connector = ""))).join("\n");
    expect(none).toContain("resource:  demo-pg (postgres) (no connector attached)");
    expect(none).not.toMatch(/via connector\s*$/m);
  });

  it("say the client address is unknown rather than print an empty line", () => {
    const unknown = renderHeader(events((l) => (l[0]!.data.client_addr = ""))).join("\n");
    expect(unknown).toContain("client:    unknown (no trusted source for the client address here)");
    expect(unknown).not.toMatch(/^client:\s*$/m);
    const known = renderHeader(events((l) => (l[0]!.data.client_addr = "203.0.113.7"))).join("\n");
    expect(known).toContain("client:    203.0.113.7");
  });

  it("replay says when rows were cut from the recording and why they cannot be shown", () => {
    const out = renderReplay(events((l) => {
      const result = l.find((e) => e.type === "result")!;
      result.data.rows = 100;
    }));
    expect(out).toContain("(100 rows) — TRUNCATED: the recording keeps 2 of 100 rows");
    expect(out).toContain("re-run the statement to see them all");
  });
});
