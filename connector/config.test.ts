import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatewayWebSocketBase, loadConnectorConfig } from "./config.ts";
import { ConfigError } from "./errors.ts";
import { generateConnectorKeyPair } from "./keys.ts";
import { resolveSecret } from "./secrets.ts";

let dir: string;
let keyJson: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "gatehouse-connector-config-"));
  keyJson = JSON.stringify((await generateConnectorKeyPair()).privateJwk);
  await writeFile(join(dir, "key.jwk"), `${keyJson}\n`, { mode: 0o600 });
  await writeFile(join(dir, "pg-password"), "from-a-file\n", { mode: 0o600 });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ENV = { DEMO_PG_PASSWORD: "from-env" };

function yaml(resource: string, top = ""): string {
  return `gateway: http://127.0.0.1:8787
id: local
private_key: file:./key.jwk
${top}resources:
  - name: demo-pg
    type: postgres
    labels: { env: dev }
    host: 127.0.0.1
    port: 5432
    database: demo
    username: gatehouse_demo
${resource}`;
}

async function load(text: string, env: NodeJS.ProcessEnv = ENV) {
  const path = join(dir, "connector.yaml");
  await writeFile(path, text);
  return loadConnectorConfig(path, env);
}

async function fieldOf(text: string, env: NodeJS.ProcessEnv = ENV): Promise<ConfigError> {
  const err = await load(text, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe("loadConnectorConfig", () => {
  it("loads the documented example shape with env: and file: references", async () => {
    const config = await load(yaml("    password: env:DEMO_PG_PASSWORD\n    tls: { mode: disable }\n"));
    expect(config.gateway).toBe("http://127.0.0.1:8787");
    expect(config.id).toBe("local");
    expect(JSON.stringify(config.privateKey)).toBe(keyJson);
    const [pg] = config.resources;
    expect(pg).toMatchObject({ name: "demo-pg", type: "postgres", labels: { env: "dev" }, host: "127.0.0.1", port: 5432, database: "demo", username: "gatehouse_demo", tls: { mode: "disable" } });
    expect(await resolveSecret(pg!.password)).toBe("from-env");

    const fromFile = await load(yaml("    password: file:./pg-password\n"));
    expect(await resolveSecret(fromFile.resources[0]!.password)).toBe("from-a-file");
    expect((fromFile.resources[0] as { tls?: unknown }).tls).toEqual({ mode: "prefer" });
  });

  it("re-reads file secrets on every use, so rotation needs no restart", async () => {
    const config = await load(yaml(`    password: file:${join(dir, "pg-password")}\n`));
    await writeFile(join(dir, "pg-password"), "rotated\n");
    expect(await resolveSecret(config.resources[0]!.password)).toBe("rotated");
  });

  it("refuses inline passwords and explains why, without echoing the value", async () => {
    const err = await fieldOf(yaml("    password: hunter2\n"));
    expect(err.field).toBe("resources[0].password");
    expect(err.message).toMatch(/inline passwords are refused/);
    expect(err.message).toMatch(/env:NAME or file:\/path/);
    expect(err.message).not.toContain("hunter2");
  });

  it("refuses an inline private key", async () => {
    const err = await fieldOf(yaml("    password: env:DEMO_PG_PASSWORD\n").replace("private_key: file:./key.jwk", `private_key: '${keyJson}'`));
    expect(err.field).toBe("private_key");
    expect(err.message).not.toContain(JSON.parse(keyJson).d);
  });

  it("names the field for missing references", async () => {
    expect((await fieldOf(yaml("    password: env:NOPE_NOT_SET\n"))).message).toBe("resources[0].password: environment variable NOPE_NOT_SET is not set");
    expect((await fieldOf(yaml("    password: file:./missing\n"))).message).toMatch(/^resources\[0\]\.password: cannot read secret file .*missing \(ENOENT\)$/);
  });

  it("names the field for invalid values", async () => {
    const cases: [string, string, RegExp][] = [
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("port: 5432", "port: 70000"), "resources[0].port", /1\.\.65535/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n    tls: { mode: sometimes }\n"), "resources[0].tls.mode", /disable, prefer, require, verify-ca, verify-full/],
      [yaml("    passwrod: env:DEMO_PG_PASSWORD\n"), "resources[0].passwrod", /unknown field/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("type: postgres", "type: mongodb"), "resources[0].type", /unsupported type "mongodb"/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("    database: demo\n", ""), "resources[0].database", /is required/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("id: local", "id: 'bad id!'"), "id", /letters, digits/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("http://127.0.0.1:8787", "http://gatehouse.example.com"), "gateway", /plaintext/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("http://127.0.0.1:8787", "ftp://x"), "gateway", /http/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n", "extra: 1\n"), "extra", /unknown field/],
      [yaml("    password: env:DEMO_PG_PASSWORD\n").replace("labels: { env: dev }", "labels: { env: [1] }"), "resources[0].labels.env", /strings/],
      ["gateway: http://127.0.0.1:8787\nid: local\nprivate_key: file:./key.jwk\nresources: []\n", "resources", /non-empty/],
    ];
    for (const [text, field, reason] of cases) {
      const err = await fieldOf(text);
      expect(err.field, text).toBe(field);
      expect(err.reason).toMatch(reason);
    }
  });

  it("refuses duplicate resource names", async () => {
    const one = yaml("    password: env:DEMO_PG_PASSWORD\n");
    const two = one + one.slice(one.indexOf("  - name:"));
    const err = await fieldOf(two);
    expect(err.field).toBe("resources[1].name");
    expect(err.reason).toMatch(/duplicate/);
  });

  it("refuses a public key where the private key belongs", async () => {
    const pub = JSON.parse(keyJson);
    delete pub.d;
    await writeFile(join(dir, "key.jwk"), JSON.stringify(pub));
    const err = await fieldOf(yaml("    password: env:DEMO_PG_PASSWORD\n"));
    expect(err.field).toBe("private_key");
    expect(err.reason).toMatch(/PRIVATE key/);
  });

  it("reports YAML syntax errors", async () => {
    const err = await fieldOf("gateway: [unclosed\n");
    expect(err.field).toBe("(yaml)");
  });
});

describe("gatewayWebSocketBase", () => {
  it("derives ws:// and wss:// and keeps a path prefix", () => {
    expect(gatewayWebSocketBase("gateway", "http://127.0.0.1:8787")).toBe("ws://127.0.0.1:8787");
    expect(gatewayWebSocketBase("gateway", "https://gh.example.com/edge/")).toBe("wss://gh.example.com/edge");
    expect(gatewayWebSocketBase("gateway", "http://localhost:8787/")).toBe("ws://localhost:8787");
    expect(gatewayWebSocketBase("gateway", "wss://gh.example.com")).toBe("wss://gh.example.com");
    expect(() => gatewayWebSocketBase("gateway", "https://u:p@gh.example.com")).toThrow(/credentials/);
  });
});

describe("type: mysql resources", () => {
  const base = (extra: string) => `gateway: http://127.0.0.1:8787
id: local
private_key: file:./key.jwk
resources:
  - name: app-mysql
    type: mysql
    host: 127.0.0.1
    database: app
${extra}`;
  const load = async (text: string) => {
    await writeFile(join(dir, "c.yaml"), text);
    return await loadConnectorConfig(join(dir, "c.yaml"), { READER: "r-secret", WRITER: "w-secret" });
  };

  it("loads one account per access level, by reference, with an explicit TLS mode", async () => {
    const c = await load(base("    credentials:\n      read: { username: app_reader, password: env:READER }\n      write: { username: app_writer, password: env:WRITER }\n    tls: { mode: require }\n"));
    const r = c.resources[0]!;
    expect(r).toMatchObject({ type: "mysql", port: 3306, database: "app", tls: { mode: "require" } });
    if (r.type !== "mysql") throw new Error("unreachable");
    expect(r.credentials.admin).toBeUndefined();
    expect(await resolveSecret(r.credentials.read!.password)).toBe("r-secret");
  });

  it("refuses inline passwords, a missing TLS mode, verify modes without a CA and single-credential fields", async () => {
    const creds = "    credentials:\n      read: { username: app_reader, password: env:READER }\n";
    await expect(load(base("    credentials:\n      read: { username: app_reader, password: hunter2 }\n    tls: { mode: require }\n"))).rejects.toMatchObject({ field: "resources[0].credentials.read.password" });
    await expect(load(base(creds))).rejects.toMatchObject({ field: "resources[0].tls" });
    await expect(load(base(`${creds}    tls: { mode: verify-full }\n`))).rejects.toMatchObject({ field: "resources[0].tls.ca" });
    await expect(load(base(`${creds}    username: root\n    tls: { mode: require }\n`))).rejects.toMatchObject({ field: "resources[0].username" });
    await expect(load(base("    credentials: {}\n    tls: { mode: require }\n"))).rejects.toMatchObject({ field: "resources[0].credentials" });
  });
});
