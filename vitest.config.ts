import { defineConfig } from "vitest/config";
import { availableParallelism } from "node:os";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";

/**
 * Test files run in parallel fork workers (the harness gives each its own ports, temp dirs and
 * clusters). Vitest's default is one fewer than the CPUs, which on a 2-core CI machine means ONE
 * worker — a strictly serial suite, although most files spend their time waiting on real servers
 * (workerd, PostgreSQL, sshd, MariaDB) and one worker keeps the machine below one busy core.
 * Two workers at least; VITEST_MAX_WORKERS or --maxWorkers still override.
 */
const maxWorkers = Math.max(2, availableParallelism() - 1);

export default defineConfig({
  test: {
    maxWorkers,
    projects: [
      {
        test: {
          name: "node",
          include: ["parsers/**/*.test.ts", "wasm/**/*.test.ts", "connector/**/*.test.ts", "fuzz/**/*.test.ts", "client/**/*.test.ts", "test/**/*.test.ts", "protocols/**/*.test.ts"],
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
