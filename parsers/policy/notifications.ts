/**
 * The policy's `notifications:` section: which webhook / Slack targets hear of approval and grant
 * events. Validated here — by the policy loader, so a bad entry is refused at load time with
 * file:line:col, and again by the worker before delivery (worker/approvals/notifications.ts, which
 * re-exports this). Secrets are never in the policy text, only `env:NAME` references.
 */
import type { Node } from "yaml";
import { isMap, isScalar, isSeq } from "yaml";
import type { PolicyReader } from "./reader.ts";

export const NOTIFICATION_EVENTS = [
  "approval.requested",
  "approval.approved",
  "approval.denied",
  "approval.expired",
  "approval.withdrawn",
  "grant.requested",
  "grant.approved",
  "grant.denied",
  "grant.expired",
  "grant.revoked",
] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

export interface NotificationTarget {
  name: string;
  type: "webhook" | "slack";
  /** A literal URL or `env:NAME` (Slack webhook URLs are secrets themselves). */
  url: string;
  /** Webhooks only: `env:NAME` of the HMAC key. */
  secret?: string;
  /** Which events; all when absent. */
  events: NotificationEvent[] | null;
  /** Only requests on these resources; all when absent. */
  resources: string[] | null;
}

/** Policy references may only name variables with these prefixes: a policy cannot point at other worker secrets. */
export const SECRET_ENV_PREFIXES = ["GATEHOUSE_WEBHOOK_", "GATEHOUSE_SLACK_", "GATEHOUSE_NOTIFY_"] as const;
const MAX_TARGETS = 20;
const TARGET_KEYS = new Set(["name", "type", "url", "secret", "events", "resources"]);

export class NotificationConfigError extends Error {
  override name = "NotificationConfigError";
  constructor(
    message: string,
    /** Where in the section: list index, then member name (and item index), when the problem is in the policy text. */
    readonly path: readonly (string | number)[] = [],
    /** The member's name rather than its value is wrong (an unknown key). */
    readonly atKey = false,
  ) {
    super(message);
  }
}

/** Validates the section as written (the plain data of `notifications:`); throws on the first problem. */
export function parseNotificationTargets(raw: unknown): NotificationTarget[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new NotificationConfigError("notifications: must be a list of targets");
  if (raw.length > MAX_TARGETS) throw new NotificationConfigError(`notifications: at most ${MAX_TARGETS} targets`, [MAX_TARGETS]);
  const names = new Set<string>();
  return raw.map((item, i) => {
    const where = `notifications[${i}]`;
    const fail = (message: string, ...at: (string | number)[]) => new NotificationConfigError(`${where}${message}`, [i, ...at]);
    if (!item || typeof item !== "object" || Array.isArray(item)) throw fail(": must be a mapping");
    const t = item as Record<string, unknown>;
    for (const k of Object.keys(t)) {
      if (!TARGET_KEYS.has(k)) throw new NotificationConfigError(`${where}: unknown key '${k}' (allowed: ${[...TARGET_KEYS].join(", ")})`, [i, k], true);
    }
    const name = t.name;
    if (typeof name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw fail(": 'name' must be a short identifier", ...(name === undefined ? [] : ["name"]));
    if (names.has(name)) throw fail(`: duplicate name '${name}'`, "name");
    names.add(name);
    if (t.type !== "webhook" && t.type !== "slack") throw fail(": 'type' must be webhook or slack", ...(t.type === undefined ? [] : ["type"]));
    if (typeof t.url !== "string") throw fail(": 'url' is required", ...(t.url === undefined ? [] : ["url"]));
    if (isEnvRef(t.url)) checkEnvRef(t.url, `${where}.url`, [i, "url"]);
    else checkUrl(t.url, `${where}.url`, [i, "url"]);
    const target: NotificationTarget = { name, type: t.type, url: t.url, events: null, resources: null };
    if (t.type === "webhook") {
      if (typeof t.secret !== "string" || !isEnvRef(t.secret)) {
        throw fail(": a webhook needs 'secret: env:NAME' (the HMAC key comes from the worker's configuration, never from the policy text)", ...(t.secret === undefined ? [] : ["secret"]));
      }
      checkEnvRef(t.secret, `${where}.secret`, [i, "secret"]);
      target.secret = t.secret;
    } else if (t.secret !== undefined) {
      throw fail(": 'secret' applies to webhooks only (a Slack webhook URL is its own secret: use url: env:NAME)", "secret");
    }
    if (t.events !== undefined) {
      const bad = Array.isArray(t.events) ? t.events.findIndex((e) => !(NOTIFICATION_EVENTS as readonly unknown[]).includes(e)) : -2;
      if (bad !== -1) throw fail(`: 'events' must be a list of ${NOTIFICATION_EVENTS.join(", ")}`, "events", ...(bad >= 0 ? [bad] : []));
      target.events = t.events as NotificationEvent[];
    }
    if (t.resources !== undefined) {
      const bad = Array.isArray(t.resources) ? t.resources.findIndex((r) => typeof r !== "string") : -2;
      if (bad !== -1) throw fail(": 'resources' must be a list of names", "resources", ...(bad >= 0 ? [bad] : []));
      target.resources = t.resources as string[];
    }
    return target;
  });
}

export function isEnvRef(v: string): boolean {
  return v.startsWith("env:");
}

export function checkEnvRef(ref: string, where: string, path: readonly (string | number)[] = []): void {
  const name = ref.slice(4);
  if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(name) || !SECRET_ENV_PREFIXES.some((p) => name.startsWith(p))) {
    throw new NotificationConfigError(`${where}: env reference must name a variable starting with ${SECRET_ENV_PREFIXES.join(", ")}`, path);
  }
}

/** https anywhere; plain http only to loopback (local receivers, tests). */
export function checkUrl(text: string, where: string, path: readonly (string | number)[] = []): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new NotificationConfigError(`${where}: not a URL`, path);
  }
  const loopback = url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]";
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new NotificationConfigError(`${where}: must be https:// (http:// only to loopback)`, path);
  if (url.username || url.password) throw new NotificationConfigError(`${where}: must not carry credentials`, path);
  return url;
}

/** Load-time check: reports the first problem of the section at the YAML node it is about. */
export function checkNotificationsSection(reader: PolicyReader, value: Node | null, key: Node): void {
  try {
    parseNotificationTargets(reader.toJS(value));
  } catch (e) {
    if (!(e instanceof NotificationConfigError)) throw e;
    reader.error(nodeAt(reader, value, e.path, e.atKey) ?? key, e.message, key);
  }
}

/** The node at `path` below `node` (aliases followed); the deepest one found when the path ends early. */
function nodeAt(reader: PolicyReader, node: Node | null, path: readonly (string | number)[], atKey: boolean): Node | null {
  let current = reader.resolve(node);
  for (const [depth, step] of path.entries()) {
    if (!current) return null;
    if (typeof step === "number" && isSeq(current)) {
      const item = current.items[step] as Node | undefined;
      if (item === undefined) return current;
      current = reader.resolve(item) ?? current;
    } else if (typeof step === "string" && isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === step);
      if (!pair) return current;
      if (atKey && depth === path.length - 1) return pair.key as Node;
      current = reader.resolve(pair.value) ?? (pair.key as Node);
    } else return current;
  }
  return current;
}
