/**
 * `notifications:` is validated when the policy loads: an invalid target is refused with the
 * file:line:col of the offending node (the worker used to find out only at delivery time).
 */
import { describe, expect, it } from "vitest";
import { formatPolicyErrors } from "./errors.ts";
import { loadPolicy } from "./load.ts";
import { parseNotificationTargets } from "./notifications.ts";
import { mustLoad } from "./test-fixtures.ts";

const BASE = `version: 1
rules:
  - { name: r, effect: allow, subjects: any, resources: [pg], actions: [connect] }
notifications:
`;
// Line 5 is the first line of the section's body.

async function errorsOf(section: string, source = "policy.yaml"): Promise<string> {
  const loaded = await loadPolicy(BASE + section, source);
  if (loaded.ok) throw new Error("expected the policy to be refused");
  return formatPolicyErrors(loaded.errors);
}

const WEBHOOK = `  - name: ops
    type: webhook
    url: https://hooks.example.com/gatehouse
    secret: env:GATEHOUSE_WEBHOOK_OPS
`;

describe("policy notifications: at load time", () => {
  it("accepts valid webhook and Slack targets (and the same list the worker parses)", async () => {
    const section = WEBHOOK + `  - { name: team, type: slack, url: env:GATEHOUSE_SLACK_TEAM, events: [grant.requested], resources: [pg] }\n`;
    await mustLoad(BASE + section);
    expect(parseNotificationTargets([{ name: "ops", type: "webhook", url: "https://hooks.example.com/gatehouse", secret: "env:GATEHOUSE_WEBHOOK_OPS" }])[0]).toMatchObject({ name: "ops", events: null });
    await mustLoad(BASE.replace("notifications:\n", "notifications: []\n"));
    await mustLoad(BASE.replace("notifications:\n", "notifications:\n")); // empty section = none
  });

  it("points at the offending value, key or list item", async () => {
    expect(await errorsOf(WEBHOOK.replace("https://hooks.example.com/gatehouse", "http://hooks.example.com/x"), "p.yaml")).toBe(
      "p.yaml:7:10: notifications[0].url: must be https:// (http:// only to loopback)",
    );
    expect(await errorsOf(WEBHOOK + "    retries: 3\n")).toBe("policy.yaml:9:5: notifications[0]: unknown key 'retries' (allowed: name, type, url, secret, events, resources)");
    expect(await errorsOf(WEBHOOK.replace("type: webhook", "type: email"))).toBe("policy.yaml:6:11: notifications[0]: 'type' must be webhook or slack");
    expect(await errorsOf(WEBHOOK.replace("env:GATEHOUSE_WEBHOOK_OPS", "env:AWS_SECRET_ACCESS_KEY"))).toBe(
      "policy.yaml:8:13: notifications[0].secret: env reference must name a variable starting with GATEHOUSE_WEBHOOK_, GATEHOUSE_SLACK_, GATEHOUSE_NOTIFY_",
    );
    expect(await errorsOf(WEBHOOK.replace("env:GATEHOUSE_WEBHOOK_OPS", "literal-secret"))).toMatch(/^policy\.yaml:8:13: notifications\[0\]: a webhook needs 'secret: env:NAME'/);
    expect(await errorsOf(WEBHOOK + "    events: [grant.requested, grant.exploded]\n")).toBe(
      "policy.yaml:9:31: notifications[0]: 'events' must be a list of approval.requested, approval.approved, approval.denied, approval.expired, approval.withdrawn, grant.requested, grant.approved, grant.denied, grant.expired, grant.revoked",
    );
    expect(await errorsOf(WEBHOOK + "    resources: [pg, 7]\n")).toBe("policy.yaml:9:21: notifications[0]: 'resources' must be a list of names");
    expect(await errorsOf(WEBHOOK + WEBHOOK)).toBe("policy.yaml:9:11: notifications[1]: duplicate name 'ops'");
    expect(await errorsOf("  - just-a-string\n")).toBe("policy.yaml:5:5: notifications[0]: must be a mapping");
    expect(await errorsOf("  - { type: slack, url: env:GATEHOUSE_SLACK_X }\n")).toBe("policy.yaml:5:5: notifications[0]: 'name' must be a short identifier");
    expect(await errorsOf("  - { name: s, type: slack, url: 'https://u:p@hooks.example.com/' }\n")).toBe("policy.yaml:5:34: notifications[0].url: must not carry credentials");
    expect(await errorsOf("  - { name: s, type: slack, url: https://hooks.example.com/, secret: env:GATEHOUSE_SLACK_X }\n")).toMatch(/^policy\.yaml:5:70: notifications\[0\]: 'secret' applies to webhooks only/);
  });

  it("refuses a section that is not a list, and odd values the hash could not take", async () => {
    expect(await errorsOf("  ops: { type: slack }\n")).toBe("policy.yaml:5:3: notifications: must be a list of targets");
    expect(await errorsOf("  - { name: s, type: slack, url: .inf }\n")).toBe("policy.yaml:5:34: notifications[0]: 'url' is required");
    expect(await errorsOf("  - [[[[[[[[x]]]]]]]]\n")).toBe("policy.yaml:5:5: notifications[0]: must be a mapping");
  });

  it("follows aliases to the node at fault", async () => {
    // The second target is an alias of the first: the duplicate name is shown where it is written.
    expect(await errorsOf(`  - &t { name: a, type: slack, url: "https://hooks.example.com/" }\n  - *t\n`, "p.yaml")).toBe("p.yaml:5:16: notifications[1]: duplicate name 'a'");
  });
});
