/** Secret and CA-bundle references: what is read, how much, and what is refused. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "./errors.ts";
import { MAX_CA_BUNDLE_BYTES, parseCaBundle, parseSecretRef } from "./secrets.ts";

const dir = mkdtempSync(join(tmpdir(), "gh-secrets-"));
const ctx = { baseDir: dir, env: {} as NodeJS.ProcessEnv };
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

describe("CA bundles", () => {
  it("reads a bundle the size of the system's (well over the 64 KB secret bound) from a file", () => {
    const big = PEM.repeat(Math.ceil(300_000 / PEM.length));
    writeFileSync(join(dir, "bundle.pem"), big);
    expect(parseCaBundle("tls.ca", "file:bundle.pem", ctx)()).toBe(big.replace(/\n$/, ""));
    // The same file as a password is refused: the larger bound is for certificates only.
    expect(() => parseSecretRef("password", "file:bundle.pem", ctx, "password")).toThrow(/larger than 65536 bytes/);
  });

  it("still bounds a bundle", () => {
    writeFileSync(join(dir, "huge.pem"), Buffer.alloc(MAX_CA_BUNDLE_BYTES + 1, 0x41));
    expect(() => parseCaBundle("tls.ca", "file:huge.pem", ctx)).toThrow(/larger than/);
  });

  it("accepts inline PEM (a CA is public) and refuses what holds no certificate, now and on re-read", () => {
    expect(parseCaBundle("tls.ca", PEM, ctx)()).toBe(PEM);
    writeFileSync(join(dir, "key.pem"), "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n");
    expect(() => parseCaBundle("tls.ca", "file:key.pem", ctx)).toThrow(/not a PEM certificate bundle/);
    expect(() => parseCaBundle("tls.ca", "-----BEGIN PRIVATE KEY-----\nabc", ctx)).toThrow(ConfigError);
    writeFileSync(join(dir, "rotating.pem"), PEM);
    const read = parseCaBundle("tls.ca", "file:rotating.pem", ctx);
    writeFileSync(join(dir, "rotating.pem"), "garbage\n");
    expect(() => read()).toThrow(/not a PEM certificate bundle/);
  });

  it("refuses anything that is neither PEM nor a reference", () => {
    expect(() => parseCaBundle("tls.ca", "MIIBxyz", ctx)).toThrow(/inline CA certificates are refused/);
    expect(() => parseCaBundle("tls.ca", 42, ctx)).toThrow(ConfigError);
  });
});
