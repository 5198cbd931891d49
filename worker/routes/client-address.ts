/**
 * The client address recorded for a session. A request header is only evidence when something
 * the gateway trusts wrote it: on Cloudflare's edge, CF-Connecting-IP is set by Cloudflare from
 * the TCP peer and any client-sent value is replaced. Anywhere else (wrangler dev, self-hosted
 * workerd) headers are whatever the client sent — miniflare even keeps a client's own
 * CF-Connecting-IP and only fills it in when absent — and the runtime gives a worker no socket
 * peer. So without GATEHOUSE_BEHIND_CLOUDFLARE=true the address is recorded as unknown (null),
 * never taken from CF-Connecting-IP, X-Forwarded-For, X-Real-IP or Forwarded.
 */
import type { Env } from "../env.ts";

/** An IPv4 or IPv6 literal, nothing else (a header is never recorded as free text). */
const IP_LITERAL = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:.]{2,45})$/;

export function behindCloudflare(env: Pick<Env, "GATEHOUSE_BEHIND_CLOUDFLARE">): boolean {
  return env.GATEHOUSE_BEHIND_CLOUDFLARE === "true";
}

export function clientAddress(env: Pick<Env, "GATEHOUSE_BEHIND_CLOUDFLARE">, headers: Headers): string | null {
  if (!behindCloudflare(env)) return null;
  const value = headers.get("cf-connecting-ip")?.trim();
  return value && IP_LITERAL.test(value) ? value : null;
}
