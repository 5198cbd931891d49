import { defineConfig } from "vitest/config";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["parsers/**/*.test.ts", "wasm/**/*.test.ts", "connector/**/*.test.ts", "client/**/*.test.ts", "test/**/*.test.ts", "protocols/**/*.test.ts"],
          // Protocol worker parts run inside workerd (the "worker" project below).
          exclude: ["protocols/*/worker/**", "**/node_modules/**"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          pool: "forks",
        },
      },
      {
        // Tests that run inside workerd (Durable Objects, D1, R2) with the bindings of wrangler.toml.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: { TEST_MIGRATIONS: await readD1Migrations("./worker/migrations") },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["worker/**/*.test.ts", "protocols/*/worker/**/*.test.ts"],
          setupFiles: ["./worker/test-setup/apply-migrations.ts"],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
