import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { mintDevToken } from "../dev/issuer.ts";
import { resolveTokenSource } from "./token-source.ts";

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function home(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-devsrc-"));
  dirs.push(dir);
  return dir;
}

const mint = (h: string, ttlSeconds: number) =>
  mintDevToken({ sub: "alice", claims: { groups: ["approvers"] }, audience: "gatehouse", ttlSeconds, issuer: "http://127.0.0.1:9", keyFile: path.join(h, "dev", "issuer-key.json") });

describe("GATEHOUSE_TOKEN from the local development issuer", () => {
  it("is renewed from the local key when a quarter of its life is left, keeping subject, claims and lifetime", async () => {
    const h = await home();
    const token = await mint(h, 60);
    const source = resolveTokenSource({ env: { GATEHOUSE_TOKEN: token, GATEHOUSE_HOME: h } });
    const renewed = await source.getToken();
    expect(renewed).not.toBe(token);
    const before = decodeJwt(token);
    const after = decodeJwt(renewed);
    expect(after).toMatchObject({ sub: "alice", groups: ["approvers"], aud: "gatehouse", iss: "http://127.0.0.1:9" });
    expect(after.exp! - after.iat!).toBe(before.exp! - before.iat!);
    expect(after.jti).not.toBe(before.jti);
  });

  it("is used as it is while it has time left", async () => {
    const h = await home();
    const token = await mint(h, 3600);
    expect(await resolveTokenSource({ env: { GATEHOUSE_TOKEN: token, GATEHOUSE_HOME: h } }).getToken()).toBe(token);
  });

  it("is never renewed with a key that did not sign it (another home)", async () => {
    const token = await mint(await home(), 60);
    const other = await home();
    await mint(other, 60); // creates a different key there
    expect(await resolveTokenSource({ env: { GATEHOUSE_TOKEN: token, GATEHOUSE_HOME: other } }).getToken()).toBe(token);
    const none = await home();
    expect(await resolveTokenSource({ env: { GATEHOUSE_TOKEN: token, GATEHOUSE_HOME: none } }).getToken()).toBe(token);
  });
});
