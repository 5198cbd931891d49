import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { parsePinnedHostKey, parseSshResource } from "./config.ts";
import { fingerprint, hostKeyMatches } from "./target.ts";
import { ConfigError } from "../../../connector/errors.ts";

// ssh-keygen -t ed25519 public key (test vector; any valid blob works).
const PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHTzIIkj815BWoAEFXrjuD29O9466cGCnC3s7HekWViX";
const blob = Buffer.from(PUB.split(" ")[1]!, "base64");
const ctx = { baseDir: "/", env: { KEY: "-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----", PW: "secret" } };

describe("ssh resource configuration", () => {
  it("pins a host key given as a public key, a known_hosts line or a fingerprint", () => {
    const fp = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    for (const text of [PUB, `${PUB} host@comment`, `[10.0.0.5]:22 ${PUB}`, fp]) {
      const pinned = parsePinnedHostKey("host_key", text);
      expect(hostKeyMatches(pinned, blob), text).toBe(true);
      expect(hostKeyMatches(pinned, Buffer.from(blob).fill(1, 20)), text).toBe(false);
    }
    expect(fingerprint(blob)).toBe(fp);
  });

  it("refuses missing or malformed host keys", () => {
    for (const bad of [undefined, "", "SHA256:short", "ssh-ed25519", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHTz", "not a key at all"]) {
      expect(() => parsePinnedHostKey("host_key", bad), String(bad)).toThrow(ConfigError);
    }
  });

  it("takes credentials only by reference, exactly one of key or password", () => {
    const base = { name: "web", type: "ssh", host: "127.0.0.1", username: "deploy", host_key: PUB };
    const withKey = parseSshResource("r", { ...base, private_key: "env:KEY" }, "web", ctx);
    expect(withKey).toMatchObject({ name: "web", type: "ssh", port: 22, username: "deploy" });
    expect(typeof withKey.privateKey).toBe("function");
    expect(parseSshResource("r", { ...base, port: 2222, password: "env:PW" }, "web", ctx).port).toBe(2222);
    expect(() => parseSshResource("r", { ...base, private_key: "-----BEGIN OPENSSH PRIVATE KEY-----" }, "web", ctx)).toThrow(/inline private keys are refused/);
    expect(() => parseSshResource("r", { ...base, password: "hunter2" }, "web", ctx)).toThrow(/inline passwords are refused/);
    expect(() => parseSshResource("r", { ...base }, "web", ctx)).toThrow(/exactly one of private_key or password/);
    expect(() => parseSshResource("r", { ...base, private_key: "env:KEY", password: "env:PW" }, "web", ctx)).toThrow(/exactly one/);
    expect(() => parseSshResource("r", { ...base, password: "env:PW", passphrase: "env:PW" }, "web", ctx)).toThrow(/only applies with private_key/);
    expect(() => parseSshResource("r", { ...base, private_key: "env:KEY", hostkey: PUB }, "web", ctx)).toThrow(/unknown field/);
    expect(() => parseSshResource("r", { ...base, private_key: "env:KEY", username: "bad user" }, "web", ctx)).toThrow(ConfigError);
  });
});
