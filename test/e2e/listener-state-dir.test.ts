/**
 * The listener's secrets live at a predictable path the pipeline reads later
 * (…/listeners/<resource>-<port>/url, ssh_config). When a directory above the state directory
 * belongs to another OS user (HOME or XDG_STATE_HOME pointed into a shared place such as /tmp,
 * where that user created `.local` first), that user could rename our directory away and plant
 * its own `url` (its own server) or `ssh_config` (a ProxyCommand run as the pipeline user) there.
 * The listener must refuse such a state directory before writing anything — as the real other
 * user (test/harness/intruder.ts) prepares it. Ground truth: the file system.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startConnectListener } from "../../client/listener.ts";
import { staticTokenSource } from "../../client/auth/token-source.ts";
import { createIntruder, type Intruder } from "../harness/intruder.ts";

describe("the listener's state directory cannot sit below another user's directory", () => {
  let intruder: Intruder;
  let shared: string;

  beforeAll(async () => {
    intruder = await createIntruder();
    // A world-writable sticky directory like /tmp, where anyone may create entries first.
    shared = mkdtempSync(path.join(tmpdir(), "gatehouse-shared-"));
    chmodSync(shared, 0o1777);
  });

  afterAll(() => {
    if (shared) rmSync(shared, { recursive: true, force: true });
    intruder?.cleanup();
  });

  const listen = (stateDir: string) =>
    startConnectListener({ gateway: "http://127.0.0.1:9", resource: "demo-pg", type: "postgres", port: 0, stateDir, tokenSource: staticTokenSource("x.y.z", "test"), log: () => {} });

  it("refuses when another user owns a directory on the way (HOME=/tmp-like, .local made by the other user)", async () => {
    const made = await intruder.run("mkdir", ["-m", "0777", path.join(shared, ".local")]);
    expect(made.code, made.stderr).toBe(0);
    const stateDir = path.join(shared, ".local", "state", "gatehouse");
    await expect(listen(stateDir)).rejects.toThrow(/belongs to another user/);
    // Nothing was created in the other user's directory: no secret, no directory it could swap.
    expect(readdirSync(path.join(shared, ".local"))).toEqual([]);
  });

  it("refuses a directory of our own that others may write to (not sticky)", async () => {
    const open = path.join(shared, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(listen(path.join(open, "state"))).rejects.toThrow(/writable by other users/);
    expect(existsSync(path.join(open, "state"))).toBe(false);
  });

  it("accepts a private directory below a sticky shared one, like /tmp", async () => {
    const mine = path.join(shared, "mine");
    mkdirSync(mine, { mode: 0o700 });
    const listener = await listen(path.join(mine, "state"));
    try {
      expect(existsSync(listener.auth.files.pgpass!)).toBe(true);
    } finally {
      await listener.close();
    }
    expect(existsSync(listener.auth.files.pgpass!)).toBe(false);
  });
});
