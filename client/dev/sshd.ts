/**
 * A real OpenSSH sshd on a loopback port, for tests and the local demo stack: its own generated
 * config and host key in a temp dir, a non-root throwaway account, and a client key that only
 * the connector is given. Nothing touches the system sshd or its configuration.
 *
 *   const sshd = await startTestSshd();
 *   // connector resource: { type: "ssh", host: "127.0.0.1", port: sshd.port, username: sshd.user,
 *   //                       privateKey: sshd.clientKeyFile (file: ref), hostKey: sshd.hostPublicKey }
 *   await sshd.stop();
 *
 * Needs root (sshd switches to the account) and openssh-server: `sshdAvailable()` says whether
 * both hold. The account is created once (`useradd`) and kept; each instance gets a fresh home
 * directory under its temp dir.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { access, chmod, mkdir, mkdtemp, readFile, rm, writeFile, chown } from "node:fs/promises";
import { freePort } from "./ports.ts";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { parsePinnedHostKey, type SshResourceConfig } from "../../protocols/ssh/connector/config.ts";

const run = promisify(execFile);
export const SSHD_BINARY = "/usr/sbin/sshd";
export const TEST_SSH_USER = "gatehouse-ssh";

export interface TestSshd {
  host: "127.0.0.1";
  port: number;
  user: string;
  /** The account's home directory for this instance (side effects of commands land here). */
  home: string;
  /** "ssh-ed25519 AAAA…" of this sshd's host key (what the connector pins). */
  hostPublicKey: string;
  /** SHA256:… fingerprint of the host key. */
  hostFingerprint: string;
  /** The private key authorised for `user` (0600). Only the connector should be given it. */
  clientKeyFile: string;
  clientPrivateKey: string;
  /** A second, unauthorised key (for authentication-failure tests). */
  wrongKeyFile: string;
  dir: string;
  /** sshd's own log lines (-e). */
  logs: string[];
  stop(): Promise<void>;
}

/** The connector resource that reaches this sshd: its client key by reference, its host key pinned. */
export function sshdResource(sshd: TestSshd, name: string, over: Partial<SshResourceConfig> = {}): SshResourceConfig {
  return {
    name,
    type: "ssh",
    labels: {},
    host: sshd.host,
    port: sshd.port,
    username: sshd.user,
    privateKey: () => readFile(sshd.clientKeyFile, "utf8"),
    hostKey: parsePinnedHostKey(`${name}.host_key`, sshd.hostPublicKey),
    ...over,
  };
}

export interface StartSshdOptions {
  /** Account name (default gatehouse-ssh). Created with useradd if missing. */
  user?: string;
  /** Parent for the temp dir (default os.tmpdir()). */
  baseDir?: string;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

export async function sshdAvailable(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  return access(SSHD_BINARY).then(
    () => true,
    () => false,
  );
}

async function ensureUser(user: string): Promise<{ uid: number; gid: number }> {
  const id = async () => {
    const { stdout: u } = await run("id", ["-u", user]);
    const { stdout: g } = await run("id", ["-g", user]);
    const ids = { uid: Number(u.trim()), gid: Number(g.trim()) };
    // A real home directory, so sshd does not complain on every session.
    const home = `/var/lib/${user}`;
    await mkdir(home, { recursive: true, mode: 0o755 });
    await chown(home, ids.uid, ids.gid);
    return ids;
  };
  try {
    return await id();
  } catch {
    try {
      await run("useradd", ["--system", "--no-create-home", "--home-dir", `/var/lib/${user}`, "--shell", "/bin/bash", user]);
    } catch (err) {
      // Another test file may have created it concurrently.
      if (!/already exists/.test(String((err as { stderr?: string }).stderr ?? ""))) throw err;
    }
    // '*' = no password but not locked: sshd (UsePAM no) refuses locked ('!') accounts even for keys.
    await run("usermod", ["-p", "*", user]);
    return await id();
  }
}


async function keygen(file: string, comment: string): Promise<void> {
  await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
}

export async function startTestSshd(opts: StartSshdOptions = {}): Promise<TestSshd> {
  const user = opts.user ?? TEST_SSH_USER;
  const { uid, gid } = await ensureUser(user);
  const dir = await mkdtemp(path.join(opts.baseDir ?? tmpdir(), "gatehouse-sshd-"));
  await chmod(dir, 0o755);
  const home = path.join(dir, "home");
  await mkdir(home, { mode: 0o755 });
  await chown(home, uid, gid);
  await mkdir("/run/sshd", { recursive: true, mode: 0o755 });
  await keygen(path.join(dir, "host_ed25519"), "gatehouse-test-host");
  await keygen(path.join(dir, "client_ed25519"), "gatehouse-connector");
  await keygen(path.join(dir, "wrong_ed25519"), "not-authorised");
  await mkdir(path.join(dir, "authorized_keys"), { mode: 0o755 });
  await writeFile(path.join(dir, "authorized_keys", user), await readFile(path.join(dir, "client_ed25519.pub")), { mode: 0o644 });
  const hostPublicKey = (await readFile(path.join(dir, "host_ed25519.pub"), "utf8")).trim().split(/\s+/).slice(0, 2).join(" ");
  const { stdout: fp } = await run("ssh-keygen", ["-l", "-E", "sha256", "-f", path.join(dir, "host_ed25519.pub")]);
  const hostFingerprint = fp.split(/\s+/)[1]!;

  const logs: string[] = [];
  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    const config = [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${path.join(dir, "host_ed25519")}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}/%u`,
      `AllowUsers ${user}`,
      "StrictModes no",
      "UsePAM no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin no",
      // Forwarding is allowed by sshd on purpose: refusals in the tests must come from the gateway.
      "AllowTcpForwarding yes",
      "AllowAgentForwarding yes",
      // X11 needs xauth on the host (Debian: xauth); without it sshd refuses x11-req on its own.
      "X11Forwarding yes",
      "X11UseLocalhost yes",
      "XAuthLocation /usr/bin/xauth",
      "PermitTTY yes",
      "PrintMotd no",
      "PrintLastLog no",
      "AcceptEnv LANG LC_*",
      "Subsystem sftp internal-sftp",
      `SetEnv HOME=${home}`,
      `ChrootDirectory none`,
      "LogLevel VERBOSE",
      ...(opts.extraConfig ?? []),
    ];
    await writeFile(path.join(dir, "sshd_config"), `${config.join("\n")}\n`);
    const proc = spawn(SSHD_BINARY, ["-D", "-e", "-f", path.join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
    const ok = await new Promise<boolean>((resolve) => {
      const onLine = (chunk: Buffer) => {
        for (const line of chunk.toString("utf8").split("\n")) {
          if (!line) continue;
          logs.push(line);
          if (/Server listening on 127\.0\.0\.1/.test(line)) resolve(true);
          if (/Bind to port|Cannot bind|Address already in use/.test(line)) resolve(false);
        }
      };
      proc.stderr!.on("data", onLine);
      proc.once("exit", () => resolve(false));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    if (ok) child = proc;
    else proc.kill("SIGKILL");
  }
  if (!child) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`sshd did not start:\n${logs.slice(-10).join("\n")}`);
  }
  const sshdProcess = child;
  // The account's home for this instance (usermod would race between parallel test files: the
  // session's HOME and working directory come from `cd` in the tests instead).
  const clientKeyFile = path.join(dir, "client_ed25519");
  let stopped = false;
  return {
    host: "127.0.0.1",
    port,
    user,
    home,
    hostPublicKey,
    hostFingerprint,
    clientKeyFile,
    clientPrivateKey: await readFile(clientKeyFile, "utf8"),
    wrongKeyFile: path.join(dir, "wrong_ed25519"),
    dir,
    logs,
    async stop() {
      if (stopped) return;
      stopped = true;
      const exited = new Promise<void>((resolve) => (sshdProcess.exitCode !== null ? resolve() : sshdProcess.once("exit", () => resolve())));
      sshdProcess.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (sshdProcess.exitCode === null) sshdProcess.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The `npm start` demo target: the same sshd, with a throwaway `gatehouse-demo` account whose key
 * only the connector holds. Returns null when sshd (or root) is not available.
 */
export async function startDemoSshd(opts: { baseDir?: string } = {}): Promise<TestSshd | null> {
  if (!(await sshdAvailable())) return null;
  return startTestSshd({ user: "gatehouse-demo", ...opts });
}
