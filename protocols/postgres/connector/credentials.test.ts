import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../connector/errors.ts";
import { resolveSecret } from "../../../connector/secrets.ts";
import { parsePostgresResource } from "./config.ts";
import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { parseConnectorConfig } from "../../../connector/config.ts";
import { generateConnectorKeyPair } from "../../../connector/keys.ts";

const ctx = { baseDir: "/", env: { R: "reader-secret", W: "writer-secret", M: "manager-secret" } };
const base = { name: "db", type: "postgres", host: "127.0.0.1", database: "app" };
const parse = (extra: Record<string, unknown>) => parsePostgresResource("resources[0]", { ...base, ...extra }, "db", ctx);
const fieldOf = (extra: Record<string, unknown>) => {
  try {
    parse(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error("expected a ConfigError");
};

describe("credentials per access level", () => {
  it("reads static logins per level, secrets by reference", async () => {
    const r = parse({ credentials: { read: { username: "app_reader", password: "env:R" }, write: { username: "app_writer", password: "env:W" } } });
    expect(r.username).toBeUndefined();
    expect(r.credentials?.mode).toBe("static");
    if (r.credentials?.mode !== "static") throw new Error("static");
    expect(r.credentials.levels.admin).toBeUndefined();
    expect(r.credentials.levels.read?.username).toBe("app_reader");
    expect(await resolveSecret(r.credentials.levels.write?.password)).toBe("writer-secret");
  });

  it("reads dynamic mode: a manager login and a role per level", () => {
    const r = parse({ credentials: { mode: "dynamic", manager: { username: "gatehouse_manager", password: "env:M" }, read: "app_read", write: "app_write" } });
    expect(r.credentials).toMatchObject({ mode: "dynamic", manager: { username: "gatehouse_manager" }, roles: { read: "app_read", write: "app_write" } });
  });

  it("refuses mixing, empty declarations, unknown levels, inline passwords and odd role names", () => {
    expect(fieldOf({ username: "u", credentials: { read: { username: "r" } } })).toMatch(/either credentials .* or username\/password/);
    expect(fieldOf({ credentials: {} })).toMatch(/at least one access level/);
    expect(fieldOf({ credentials: { superuser: { username: "r" } } })).toMatch(/credentials\.superuser: unknown field/);
    expect(fieldOf({ credentials: { read: { username: "r", password: "hunter2" } } })).toMatch(/credentials\.read\.password: inline passwords are refused/);
    expect(fieldOf({ credentials: { mode: "dynamic", manager: { username: "m" }, read: 'x"; drop role y; --' } })).toMatch(/credentials\.read: must be a role name/);
    expect(fieldOf({ credentials: { mode: "dynamic", read: "app_read" } })).toMatch(/credentials\.manager: must be a mapping/);
    expect(fieldOf({ credentials: { mode: "vault" } })).toMatch(/credentials\.mode: must be one of: static, dynamic/);
    expect(fieldOf({})).toMatch(/username: is required/);
  });
});

describe("examples/connector.yaml", () => {
  it("declares demo-pg's reader and writer per access level, and no admin", async () => {
    const raw = parseDocument(await readFile(new URL("../../../examples/connector.yaml", import.meta.url), "utf8")).toJS();
    raw.private_key = "env:KEY";
    const key = JSON.stringify((await generateConnectorKeyPair()).privateJwk);
    const config = parseConnectorConfig(raw, { baseDir: "/", env: { KEY: key, DEMO_PG_READER_PASSWORD: "r", DEMO_PG_WRITER_PASSWORD: "w" } });
    const demo = config.resources.find((r) => r.name === "demo-pg");
    expect(demo?.type === "postgres" && demo.credentials).toMatchObject({
      mode: "static",
      levels: { read: { username: "gatehouse_demo_reader" }, write: { username: "gatehouse_demo_writer" } },
    });
    expect(demo?.type === "postgres" && demo.credentials?.mode === "static" && demo.credentials.levels.admin).toBeFalsy();
  });
});
