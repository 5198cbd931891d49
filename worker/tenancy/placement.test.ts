/**
 * GATEHOUSE_PLACEMENT (placement.ts): the map every process of a placed deployment shares, and the
 * decisions taken from it alone — which tenants this process serves, which it refuses (421 to
 * another process, 404 when placed nowhere), and which audiences a tenant may trust.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { Env } from "../env.ts";
import { ConfigurationError } from "../errors.ts";
import { serveHosted } from "./boundary.ts";
import type { HostedEnv } from "./tenant-env.ts";
import { checkPlaced, parsePlacement, undeclaredAudience } from "./placement.ts";

const MAP = { acme: { process: "p0", audiences: ["gatehouse-acme"] }, beta: { process: "p1", audiences: ["gatehouse-beta", "beta-console"] } };
const text = (process: string, tenants: unknown = MAP) => JSON.stringify({ process, tenants });
const issuers = (...audiences: string[]) => JSON.stringify([{ issuer: "https://idp.example", audiences }]);

describe("parsePlacement", () => {
  it("is absent when unset, and parses the map", () => {
    expect(parsePlacement(undefined)).toBeNull();
    expect(parsePlacement("  ")).toBeNull();
    const p = parsePlacement(text("p1"))!;
    expect(p.process).toBe("p1");
    expect([...p.tenants.keys()]).toEqual(["acme", "beta"]);
    expect(p.tenants.get("beta")).toEqual({ process: "p1", audiences: ["gatehouse-beta", "beta-console"] });
  });

  it("refuses a map that would let one token verify at two tenants, or at a tenant and the platform", () => {
    const shared = { acme: { process: "p0", audiences: ["gatehouse-x"] }, beta: { process: "p1", audiences: ["gatehouse-x"] } };
    expect(() => parsePlacement(text("p0", shared))).toThrow(/audience gatehouse-x is declared for tenants acme and beta/);
    expect(() => parsePlacement(text("p0"), issuers("gatehouse-platform", "gatehouse-beta"))).toThrow(/gatehouse-beta is declared for tenant beta and is a platform audience/);
    expect(parsePlacement(text("p0"), issuers("gatehouse-platform"))).not.toBeNull();
  });

  it("refuses malformed maps (fail closed: every request then answers 503)", () => {
    const bad: Array<[string, RegExp]> = [
      ["{", /not valid JSON/],
      ["[]", /must be an object/],
      [JSON.stringify({ tenants: MAP }), /process must name this process/],
      [JSON.stringify({ process: "P1", tenants: MAP }), /process must name this process/],
      [JSON.stringify({ process: "p1", tenants: MAP, extra: 1 }), /unknown field/],
      [text("p1", []), /tenants must be an object/],
      [text("p1", { "Acme": MAP.acme }), /not a tenant name/],
      [text("p1", { platform: MAP.acme }), /not a tenant name/],
      [text("p1", { acme: { process: "p0" } }), /audiences must be a non-empty array/],
      [text("p1", { acme: { process: "p0", audiences: [] } }), /audiences must be a non-empty array/],
      [text("p1", { acme: { process: "p0", audiences: [""] } }), /audiences must be a non-empty array/],
      [text("p1", { acme: { process: "../p0", audiences: ["a"] } }), /process must be a process name/],
      [text("p1", { acme: { process: "p0", audiences: ["a"], state: "/tmp" } }), /unknown field/],
    ];
    for (const [value, why] of bad) {
      expect(() => parsePlacement(value), value).toThrow(ConfigurationError);
      expect(() => parsePlacement(value), value).toThrow(why);
    }
  });
});

describe("checkPlaced", () => {
  it("serves only this process's tenants: 421 naming the right process, 404 for a tenant placed nowhere", () => {
    const p1 = parsePlacement(text("p1"))!;
    expect(checkPlaced(p1, "beta")).toEqual({ ok: true });
    expect(checkPlaced(p1, "acme")).toMatchObject({ ok: false, status: 421, body: { error: "tenant_not_placed_here", process: "p0" } });
    expect(checkPlaced(p1, "gamma")).toMatchObject({ ok: false, status: 404, body: { error: "unknown_tenant" } });
    const p0 = parsePlacement(text("p0"))!;
    expect(checkPlaced(p0, "acme")).toEqual({ ok: true });
    expect(checkPlaced(p0, "beta")).toMatchObject({ ok: false, status: 421, body: { process: "p1" } });
    // A process no tenant is placed on serves none.
    const idle = parsePlacement(text("p9"))!;
    expect([checkPlaced(idle, "acme").ok, checkPlaced(idle, "beta").ok]).toEqual([false, false]);
  });
});

describe("undeclaredAudience", () => {
  it("lets a tenant trust only the audiences declared for it", () => {
    const p = parsePlacement(text("p1"))!;
    expect(undeclaredAudience(p, { name: "beta", issuers: issuers("gatehouse-beta") })).toBeNull();
    expect(undeclaredAudience(p, { name: "beta", issuers: issuers("gatehouse-beta", "beta-console") })).toBeNull();
    // Another tenant's audience (on another process, where this registry cannot see it) is refused.
    expect(undeclaredAudience(p, { name: "beta", issuers: issuers("gatehouse-beta", "gatehouse-acme") })).toMatch(/audience gatehouse-acme/);
    expect(undeclaredAudience(p, { name: "beta", issuers: issuers("anything") })).toMatch(/may only trust the audiences GATEHOUSE_PLACEMENT declares/);
    expect(undeclaredAudience(p, { name: "gamma", issuers: issuers("gatehouse-gamma") })).toMatch(/audience gatehouse-gamma/);
  });
});

describe("the boundary with a placement (workerd, the real tenant stores)", () => {
  /** The worker behind the boundary: counts what reaches it. */
  const inner = () => {
    const seen: string[] = [];
    return { seen, app: { fetch: (r: Request) => (seen.push(new URL(r.url).pathname), new Response("served")) } };
  };
  const raw = (vars: Partial<HostedEnv>) => ({ ...(env as unknown as HostedEnv), ...vars }) as HostedEnv;
  const serve = async (vars: Partial<HostedEnv>, url: string) => {
    const { seen, app } = inner();
    const ctx = createExecutionContext();
    const res = await serveHosted(app as unknown as { fetch(r: Request, e: Env, c: ExecutionContext): Response }, new Request(url), raw(vars), ctx);
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown>, seen };
  };

  it("refuses another process's tenant (421) and a tenant placed nowhere (404) before the worker runs", async () => {
    const vars = { GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLACEMENT: text("p1") };
    const elsewhere = await serve(vars, "https://gate.test/t/acme/v1/resources/orders");
    expect([elsewhere.status, elsewhere.body.error, elsewhere.body.process, elsewhere.seen]).toEqual([421, "tenant_not_placed_here", "p0", []]);
    const nowhere = await serve(vars, "https://gate.test/t/gamma/v1/resources/orders");
    expect([nowhere.status, nowhere.body.error, nowhere.seen]).toEqual([404, "unknown_tenant", []]);
  });

  it("fails closed on a map it cannot use, and on a placement in single-tenant mode", async () => {
    const broken = await serve({ GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLACEMENT: text("p1", { acme: { process: "p0", audiences: ["x"] }, beta: { process: "p1", audiences: ["x"] } }) }, "https://gate.test/t/beta/v1/resources/orders");
    expect([broken.status, broken.body.error, broken.seen]).toEqual([503, "misconfigured", []]);
    const single = await serve({ GATEHOUSE_TENANCY: "single", GATEHOUSE_PLACEMENT: text("p1") }, "https://gate.test/v1/resources/orders");
    expect([single.status, String(single.body.reason), single.seen]).toEqual([503, "GATEHOUSE_PLACEMENT needs GATEHOUSE_TENANCY=multi", []]);
    // Unset, single-tenant: the worker serves as before.
    const plain = await serve({ GATEHOUSE_TENANCY: "single", GATEHOUSE_PLACEMENT: undefined }, "https://gate.test/v1/resources/orders");
    expect([plain.status, plain.seen]).toEqual([200, ["/v1/resources/orders"]]);
  });
});
