/**
 * The test harness's listener credentials: every listener the harness starts (stack.connect(),
 * stack.psql()) requires them like any `gatehouse connect` listener does, and every harness
 * client presents them — conn.url carries the password, PgWire.open() answers SCRAM with it, and
 * test/ssh/run.ts's SSH_OPTS name the key file. One set per test process, so tests that build
 * ssh/psql command lines from a port alone keep working. (The CLI generates a fresh set per
 * listener; test/e2e/listener-auth.test.ts checks that path.)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { generateEd25519KeyPair, type ListenerCredentials } from "../../client/listener-auth/local-auth.ts";

const keyPair = generateEd25519KeyPair();
const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-test-client-")); // 0700

/** OpenSSH private key file (0600) for `ssh -i`. */
export const TEST_SSH_KEY_FILE = path.join(dir, "id_ed25519");
writeFileSync(TEST_SSH_KEY_FILE, keyPair.private.endsWith("\n") ? keyPair.private : `${keyPair.private}\n`, { mode: 0o600 });

export const TEST_LISTENER_CREDENTIALS: Required<ListenerCredentials> = {
  password: randomBytes(18).toString("base64url"),
  sshPrivateKey: keyPair.private,
};

/** A listener URL with the harness password: postgresql://user:secret@127.0.0.1:port/resource?sslmode=disable */
export function listenerUrl(port: number, user: string, resource: string, password = TEST_LISTENER_CREDENTIALS.password): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(resource)}?sslmode=disable`;
}
