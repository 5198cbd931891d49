/**
 * "A new protocol is a folder plus one line": protocols/modules.ts is the only hand-written list;
 * the deployables' registries are generated from it (scripts/gen-protocol-registries.mjs). These
 * tests fail when someone adds a line without regenerating, or edits a generated file by hand.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error plain JavaScript (the generator runs without a TypeScript loader)
import { generate, listedProtocols, staleFiles } from "../scripts/gen-protocol-registries.mjs";
import { PROTOCOLS } from "../protocols/registry.ts";

describe("protocol registries", () => {
  it("the generated registries are fresh (run npm run gen:protocols after editing protocols/modules.ts)", () => {
    expect(staleFiles()).toEqual([]);
  });

  it("lists every module of protocols/modules.ts under the name its folder has", () => {
    const listed = (listedProtocols() as { name: string }[]).map((p) => p.name);
    expect(PROTOCOLS.map((p) => p.name)).toEqual(listed);
    expect(listed).toEqual([...listed].sort());
  });

  it("one added line yields its import and entry in each registry, by convention", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gh-registries-"));
    for (const part of ["worker", "connector", "client"]) {
      mkdirSync(path.join(dir, "my-proto", part), { recursive: true });
      writeFileSync(path.join(dir, "my-proto", part, "index.ts"), "");
    }
    const files = generate(listedProtocols('export { myProtoModule } from "./my-proto/module.ts";\n'), dir) as Record<string, string>;
    expect(Object.keys(files).sort()).toEqual(["registry-client.ts", "registry-connector.ts", "registry-worker.ts"]);
    expect(files["registry-worker.ts"]).toContain('import { myProtoWorker } from "./my-proto/worker/index.ts";');
    expect(files["registry-worker.ts"]).toContain('  "my-proto": myProtoWorker,');
    expect(files["registry-connector.ts"]).toContain('import { myProtoConnector } from "./my-proto/connector/index.ts";');
    expect(files["registry-client.ts"]).toContain('import { myProtoClient } from "./my-proto/client/index.ts";');
    // The connector and CLI registries never name worker code (the bundles stay separate).
    expect(files["registry-connector.ts"]).not.toMatch(/\/worker\//);
    expect(files["registry-client.ts"]).not.toMatch(/\/worker\//);
  });

  it("refuses a line whose part is missing, or that does not follow the convention", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gh-registries-"));
    mkdirSync(path.join(dir, "half", "worker"), { recursive: true });
    writeFileSync(path.join(dir, "half", "worker", "index.ts"), "");
    expect(() => generate(listedProtocols('export { halfModule } from "./half/module.ts";\n'), dir)).toThrow(/protocols\/half\/connector\/index\.ts is missing \(it must export halfConnector\)/);
    expect(() => listedProtocols('export { pgModule } from "./postgres/module.ts";\n')).toThrow(/must export postgresModule/);
    expect(() => listedProtocols('export * from "./postgres/module.ts";\n')).toThrow(/modules\.ts:1: expected/);
  });
});
