import { describe, expect, it } from "vitest";
import { clientAddress } from "./client-address.ts";

const spoofed = new Headers({ "cf-connecting-ip": "203.0.113.9", "x-forwarded-for": "198.51.100.1", "x-real-ip": "198.51.100.2", forwarded: "for=198.51.100.3" });

describe("recorded client address", () => {
  it("ignores every client-supplied address header unless configured as behind Cloudflare", () => {
    expect(clientAddress({}, spoofed)).toBeNull();
    expect(clientAddress({ GATEHOUSE_BEHIND_CLOUDFLARE: "false" }, spoofed)).toBeNull();
    expect(clientAddress({ GATEHOUSE_BEHIND_CLOUDFLARE: "1" }, spoofed)).toBeNull();
  });

  it("records standalone workerd's socket peer (cf.clientIp), never a header", () => {
    expect(clientAddress({}, spoofed, { clientIp: "192.0.2.7:50432" })).toBe("192.0.2.7");
    expect(clientAddress({}, spoofed, { clientIp: "[2001:db8::5]:443" })).toBe("2001:db8::5");
    expect(clientAddress({}, spoofed, { clientIp: "not an address" })).toBeNull();
    expect(clientAddress({}, spoofed, { country: "XX" })).toBeNull();
    // Behind Cloudflare the edge's header wins (Cloudflare sets it from the TCP peer).
    expect(clientAddress({ GATEHOUSE_BEHIND_CLOUDFLARE: "true" }, spoofed, { clientIp: "192.0.2.7:1" })).toBe("203.0.113.9");
  });

  it("uses only CF-Connecting-IP behind Cloudflare, and only an IP literal", () => {
    const on = { GATEHOUSE_BEHIND_CLOUDFLARE: "true" };
    expect(clientAddress(on, spoofed)).toBe("203.0.113.9");
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "2001:db8::7" }))).toBe("2001:db8::7");
    expect(clientAddress(on, new Headers({ "x-forwarded-for": "198.51.100.1" }))).toBeNull();
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "evil, 10.0.0.1" }))).toBeNull();
  });

  it("a zone with Pseudo IPv4 'Overwrite Headers': the real IPv6 address Cloudflare keeps in CF-Connecting-IPv6, not the Class E stand-in", () => {
    // Cloudflare hashes each IPv6 address into 240.0.0.0/4: one party's /64 would be millions of "IPv4 clients".
    const on = { GATEHOUSE_BEHIND_CLOUDFLARE: "true" };
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "2001:db8:7:1::1" }))).toBe("2001:db8:7:1::1");
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "255.1.2.3", "cf-connecting-ipv6": "2001:db8:7:1::2" }))).toBe("2001:db8:7:1::2");
    // A Class E address without a real one beside it is no client's address (unknown); a real IPv4 address is never replaced.
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "240.16.0.1" }))).toBeNull();
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "junk" }))).toBeNull();
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "192.0.2.1" }))).toBeNull();
    expect(clientAddress(on, new Headers({ "cf-connecting-ip": "203.0.113.9", "cf-connecting-ipv6": "2001:db8::9" }))).toBe("203.0.113.9");
    // Off Cloudflare neither header is read.
    expect(clientAddress({}, new Headers({ "cf-connecting-ip": "240.16.0.1", "cf-connecting-ipv6": "2001:db8::9" }))).toBeNull();
  });
});
