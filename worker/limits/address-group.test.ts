/**
 * Client address groups (address-group.ts): the unit a share of the anonymous API bucket is kept
 * for. The ways around it an attacker would try: many IPv6 addresses or /64s of one /48, spellings of one
 * address, IPv4 through an IPv4-mapped IPv6 address, and text that is no address at all.
 */
import { describe, expect, it } from "vitest";
import { UNKNOWN_ADDRESS, addressGroup } from "./address-group.ts";

describe("addressGroup", () => {
  it("IPv4: one group per address", () => {
    expect(addressGroup("203.0.113.7")).toBe("v4:203.0.113.7");
    expect(addressGroup("203.0.113.8")).toBe("v4:203.0.113.8");
  });

  it("IPv6: one group per /48 (one party's /64s, /60 or /56 included), however the address is spelt", () => {
    const g = addressGroup("2001:db8:7:1::1");
    expect(g).toBe("v6:2001:db8:7::/48");
    for (const neighbour of [
      "2001:db8:7:1::beef",
      "2001:0DB8:0007:0001:ffff:ffff:ffff:ffff",
      "2001:db8:7:1:0:0:0:2",
      "2001:db8:7:1::1%eth0",
      "2001:db8:7:1::192.0.2.1",
      "2001:db8:7:2::1", // the next /64
      "2001:db8:7:1ff::1", // another /64 of a delegated /56
      "2001:db8:7:ffff:ffff:ffff:ffff:ffff", // the last /64 of the /48
      "2001:db8:7::",
    ]) {
      expect(addressGroup(neighbour), neighbour).toBe(g);
    }
    expect(addressGroup("2001:db8:8::1")).toBe("v6:2001:db8:8::/48");
    expect(addressGroup("2001:db8:7:1::1")).not.toBe(addressGroup("2001:db9:7:1::1"));
    expect(addressGroup("::1")).toBe("v6:0:0:0::/48");
  });

  it("an IPv4-mapped IPv6 address is the IPv4 address", () => {
    expect(addressGroup("::ffff:203.0.113.7")).toBe("v4:203.0.113.7");
    expect(addressGroup("::ffff:cb00:7107")).toBe("v4:203.0.113.7");
  });

  it("a Class E address (240.0.0.0/4: Cloudflare's Pseudo IPv4 stand-in for an IPv6 client, never a real one) is no client's address", () => {
    for (const pseudo of ["240.16.0.1", "240.16.0.2", "255.255.255.255", "::ffff:240.16.0.3"]) expect(addressGroup(pseudo), pseudo).toBe(UNKNOWN_ADDRESS);
    expect(addressGroup("239.255.255.255")).toBe("v4:239.255.255.255");
  });

  it("no address, or text that is not one: the one shared group", () => {
    for (const bad of [null, "", "localhost", "1.2.3", "1.2.3.256", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::1", "::ffff:1.2.3.999", "::g"]) {
      expect(addressGroup(bad), String(bad)).toBe(UNKNOWN_ADDRESS);
    }
  });
});
