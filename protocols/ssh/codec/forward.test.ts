import { describe, expect, it } from "vitest";
import { canonicalHost, canonicalSocketPath, forwardTarget, parseForwardRequest, parseIncomingOpen, parseListenResult, INCOMING_CHANNEL_BASE } from "./forward.ts";

describe("forwarding targets", () => {
  it("canonicalises every spelling of an IPv4 address (what policy sees is what is dialled)", () => {
    for (const spelling of ["169.254.169.254", "169.254.43518", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376", "2852039166", "0xA9FEA9FE", "[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", "169.254.169.254."]) {
      expect(canonicalHost(spelling), spelling).toBe("169.254.169.254");
    }
    expect(canonicalHost("127.1")).toBe("127.0.0.1");
    expect(canonicalHost("0")).toBe("0.0.0.0");
  });

  it("canonicalises IPv6 (RFC 5952) and host names, and refuses what is neither", () => {
    expect(canonicalHost("[0:0:0:0:0:0:0:1]")).toBe("::1");
    expect(canonicalHost("2001:DB8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1");
    expect(canonicalHost("fe80::1%eth0")).toBeNull(); // zone ids are the host's business
    expect(canonicalHost("DB.Internal.")).toBe("db.internal");
    expect(canonicalHost("256.1.1.1")).toBeNull();
    expect(canonicalHost("1.2.3.4.5")).toBeNull();
    expect(canonicalHost("db internal")).toBeNull();
    expect(canonicalHost("a/b")).toBeNull();
    expect(canonicalHost("")).toBeNull();
    expect(canonicalHost("", true)).toBe("*");
    expect(canonicalHost("*", true)).toBe("*");
  });

  it("normalises socket paths and builds the strings policy matches", () => {
    expect(canonicalSocketPath("/run/../run//docker.sock")).toBe("/run/docker.sock");
    expect(canonicalSocketPath("relative.sock")).toBeNull();
    expect(canonicalSocketPath("/a\0b")).toBeNull();
    expect(forwardTarget("local", { host: "db", port: 5432 })).toBe("local:db:5432");
    expect(forwardTarget("remote-streamlocal", { path: "/tmp/x.sock" })).toBe("remote-streamlocal:/tmp/x.sock");
  });

  it("validates forwarding messages from each side", () => {
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "local", ch: 3, host: "0x7f.1", port: 80 })).toEqual({
      t: "ssh.forward",
      id: 1,
      kind: "local",
      ch: 3,
      host: "127.0.0.1",
      port: 80,
      originHost: "127.0.0.1",
      originPort: 0,
    });
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "local", ch: INCOMING_CHANNEL_BASE, host: "h", port: 80 })).toBeNull();
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "local", ch: 1, host: "h", port: 70000 })).toBeNull();
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "remote", host: "", port: 0 })).toMatchObject({ host: "*", port: 0 });
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "remote", ch: 1, host: "h", port: 1 })).toBeNull();
    expect(parseForwardRequest({ t: "ssh.forward", id: 1, kind: "streamlocal", ch: 1, path: "/x/../y.sock" })).toMatchObject({ path: "/y.sock" });
    expect(parseIncomingOpen({ t: "ssh.incoming", ch: 5, kind: "agent" })).toBeNull(); // host channels have ids from 2^31
    expect(parseIncomingOpen({ t: "ssh.incoming", ch: INCOMING_CHANNEL_BASE, kind: "agent" })).toEqual({ t: "ssh.incoming", ch: INCOMING_CHANNEL_BASE, kind: "agent" });
    expect(parseIncomingOpen({ t: "ssh.incoming", ch: INCOMING_CHANNEL_BASE, kind: "shell" })).toBeNull();
    expect(parseListenResult({ t: "ssh.listen-result", id: 1, ok: true, port: 99999 })).toBeNull();
  });
});
