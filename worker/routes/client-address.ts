/**
 * The client address recorded for a session. A request header is only evidence when something
 * the gateway trusts wrote it: on Cloudflare's edge, CF-Connecting-IP is set by Cloudflare from
 * the TCP peer and any client-sent value is replaced. Anywhere else (wrangler dev, self-hosted
 * workerd) headers are whatever the client sent — miniflare even keeps a client's own
 * CF-Connecting-IP and only fills it in when absent. Standalone workerd (the self-hosted worker)
 * puts the TCP peer in `request.cf.clientIp` ("ip:port"), which no header can set; that is the
 * socket peer and is recorded. miniflare (wrangler dev) replaces `request.cf` with its own object
 * and hides it, so there the address is recorded as unknown (null) — never taken from
 * CF-Connecting-IP, X-Forwarded-For, X-Real-IP or Forwarded.
 *
 * A zone with Pseudo IPv4 set to "Overwrite Headers" has Cloudflare put, for an IPv6 client, a
 * Class E address hashed from the IPv6 address (240.0.0.0/4, never a real client) in
 * CF-Connecting-IP, and the real address in CF-Connecting-IPv6. Taken as is, one party's /64
 * would be millions of distinct "IPv4 clients" (worker/limits/address-group.ts) and the trail would
 * record a made-up address; so a Class E CF-Connecting-IP is replaced by CF-Connecting-IPv6 when
 * that is an IPv6 literal, and is no address (null) otherwise.
 */
import type { Env } from "../env.ts";

/** An IPv4 or IPv6 literal, nothing else (a header is never recorded as free text). */
const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;

export function behindCloudflare(env: Pick<Env, "GATEHOUSE_BEHIND_CLOUDFLARE">): boolean {
  return env.GATEHOUSE_BEHIND_CLOUDFLARE === "true";
}

export function clientAddress(env: Pick<Env, "GATEHOUSE_BEHIND_CLOUDFLARE">, headers: Headers, cf?: unknown): string | null {
  if (!behindCloudflare(env)) return socketPeer(cf);
  const value = headers.get("cf-connecting-ip")?.trim();
  if (!value || !IP_LITERAL.test(value)) return null;
  if (!isClassE(value)) return value;
  const v6 = headers.get("cf-connecting-ipv6")?.trim();
  return v6 && v6.includes(":") && IP_LITERAL.test(v6) ? v6 : null;
}

/** 240.0.0.0/4: reserved, never a client on the Internet (Cloudflare's Pseudo IPv4 stand-ins). */
export function isClassE(ipv4: string): boolean {
  const m = /^(\d{1,3})\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.exec(ipv4);
  return m !== null && Number(m[1]) >= 240 && Number(m[1]) <= 255;
}

/** workerd's `cf.clientIp`: "1.2.3.4:5678", "[2001:db8::1]:5678" or a bare address. */
function socketPeer(cf: unknown): string | null {
  const raw = typeof cf === "object" && cf !== null ? (cf as { clientIp?: unknown }).clientIp : undefined;
  if (typeof raw !== "string") return null;
  const m = /^\[([0-9A-Fa-f:.]+)\]:\d+$/.exec(raw) ?? /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(raw);
  const ip = m ? m[1]! : raw;
  return IP_LITERAL.test(ip) ? ip : null;
}
