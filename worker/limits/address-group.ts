/**
 * Which share of the tenant's anonymous API budget a request spends (docs/TENANCY.md "API rate
 * limit"): its client address, grouped so one party cannot multiply its share by using more
 * addresses of its own. IPv4: the address. IPv6: its /48 — not its /64: one party routinely
 * holds many /64s (an ISP delegates a /56 or /60 to a home router, a tunnel broker hands out a
 * /48 for free), so a share per /64 gave one household 256 shares and one free account 65,536,
 * i.e. the whole bucket. A /48 is one site's allocation (RFC 6177) and costs about what one IPv4
 * address does; like a carrier-grade NAT address, it may be shared by strangers, who then share
 * one share. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address. No address that the gateway
 * trusts (worker/routes/client-address.ts), or one that does not parse: the one shared group
 * `unknown`, which gets one address's share — it fails closed into a small bucket, never into
 * "no limit" and never into a header the client chose.
 */

import { isClassE } from "../routes/client-address.ts";

export const UNKNOWN_ADDRESS = "unknown";

export function addressGroup(address: string | null): string {
  if (address === null) return UNKNOWN_ADDRESS;
  const v4 = ipv4(address);
  if (v4 !== null) return v4Group(v4);
  const hextets = ipv6(address);
  if (hextets === null) return UNKNOWN_ADDRESS;
  // ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    return v4Group(`${hextets[6]! >> 8}.${hextets[6]! & 255}.${hextets[7]! >> 8}.${hextets[7]! & 255}`);
  }
  return `v6:${hextets
    .slice(0, 3)
    .map((h) => h.toString(16))
    .join(":")}::/48`;
}

/**
 * 240.0.0.0/4 is no client's address: Cloudflare's Pseudo IPv4 hashes each IPv6 address into it
 * (client-address.ts takes CF-Connecting-IPv6 instead), so one party's /64 would be millions of
 * groups. Shared like any address that cannot be trusted.
 */
function v4Group(v4: string): string {
  return isClassE(v4) ? UNKNOWN_ADDRESS : `v4:${v4}`;
}

function ipv4(text: string): string | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return parts.map(Number).join(".");
}

/** The eight 16-bit groups of an IPv6 literal (`::` and a dotted IPv4 tail allowed), or null. */
function ipv6(text: string): number[] | null {
  const address = text.replace(/%.*$/, ""); // a zone id names an interface, not a host
  if (!/^[0-9A-Fa-f:.]+$/.test(address)) return null;
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (i === pieces.length - 1 && p.includes(".")) {
        const v4 = ipv4(p);
        if (v4 === null) return null;
        const [a, b, c, d] = v4.split(".").map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(p)) out.push(Number.parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...Array<number>(missing).fill(0), ...tail];
}
