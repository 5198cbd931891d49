/**
 * Setup for the "worker" vitest project (runs inside workerd): applies the D1 migrations read by
 * vitest.config.ts (readD1Migrations) to the test database. Each test file gets isolated storage.
 */
import { applyD1Migrations, type D1Migration } from "cloudflare:test";
import { env } from "cloudflare:workers";

const bindings = env as unknown as { DB: D1Database; TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(bindings.DB, bindings.TEST_MIGRATIONS);
