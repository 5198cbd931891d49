// Main step: install the pinned CLI, start the tunnel in the background, wait until it accepts,
// export what later steps need. docs/PIPELINES.md explains the inputs and what is exported.
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { exportVariable, fail, info, input, saveState, setOutput } from "./runner.mjs";

async function main() {
  const resource = input("resource", { required: true });
  const gateway = input("gateway", { required: true });
  const port = input("port") || "0";
  const audience = input("audience") || "gatehouse";
  const timeoutSeconds = Number(input("timeout-seconds") || "60");
  const prefix = input("export-prefix") || "GATEHOUSE";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(resource)) throw new Error(`resource: not a resource name: ${JSON.stringify(resource)}`);
  if (!/^\d{1,5}$/.test(port)) throw new Error(`port: expected a number, got ${JSON.stringify(port)}`);
  if (!/^[A-Z][A-Z0-9_]*$/.test(prefix)) throw new Error(`export-prefix: expected an upper-case variable prefix, got ${JSON.stringify(prefix)}`);
  if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL) throw new Error("the job has no OIDC token: add `permissions: id-token: write` to the job");

  const work = path.join(process.env.RUNNER_TEMP || "/tmp", `gatehouse-${resource}-${process.pid}`);
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const command = await installCli(work);

  const readyFile = path.join(work, "ready.json");
  const logFile = path.join(work, "connect.log");
  const log = openSync(logFile, "a", 0o600);
  const [exe, ...pre] = command;
  const child = spawn(exe, [...pre, "connect", resource, "--gateway", gateway, "--port", port, "--audience", audience, "--ready-file", readyFile], {
    detached: true, // its own process group: it outlives this step, and the post step stops it
    stdio: ["ignore", log, log],
    env: { ...process.env, GATEHOUSE_STATE_DIR: path.join(work, "state"), NO_COLOR: "1" },
  });
  closeSync(log);
  let exited = null;
  child.once("exit", (code, signal) => (exited = signal ?? code));
  saveState("pid", String(child.pid));
  saveState("log", logFile);

  const deadline = Date.now() + timeoutSeconds * 1000;
  while (!existsSync(readyFile)) {
    if (exited !== null) throw new Error(`gatehouse connect exited (${exited}) before it was ready:\n${readFileSync(logFile, "utf8")}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGTERM");
      throw new Error(`gatehouse connect was not ready after ${timeoutSeconds}s:\n${readFileSync(logFile, "utf8")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.unref();
  const ready = JSON.parse(readFileSync(readyFile, "utf8"));

  setOutput("host", ready.host);
  setOutput("port", String(ready.port));
  setOutput("type", ready.type);
  setOutput("ready-file", readyFile);
  exportVariable(`${prefix}_HOST`, ready.host);
  exportVariable(`${prefix}_PORT`, String(ready.port));
  exportVariable(`${prefix}_READY_FILE`, readyFile);
  for (const [name, file] of Object.entries(ready.files ?? {})) exportVariable(`${prefix}_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_FILE`, file);
  if (ready.type === "postgres") {
    // libpq reads these: `psql` and most drivers need no arguments. The password stays in the 0600 passfile.
    exportVariable("PGHOST", ready.host);
    exportVariable("PGPORT", String(ready.port));
    exportVariable("PGDATABASE", ready.resource);
    exportVariable("PGSSLMODE", "disable");
    if (ready.files?.pgpass) exportVariable("PGPASSFILE", ready.files.pgpass);
    const user = /postgresql:\/\/([^@:/]+)@/.exec(ready.usage?.join("\n") ?? "")?.[1];
    if (user) exportVariable("PGUSER", decodeURIComponent(user));
  }
  info(`gatehouse: ${ready.resource} (${ready.type}) ready on ${ready.host}:${ready.port}`);
  for (const line of ready.usage ?? []) info(`  ${line}`);
}

/** The gatehouse command to run: given, or installed from the pinned tarball after its integrity is checked. */
async function installCli(work) {
  const given = input("cli-command");
  if (given) return given.endsWith(".mjs") || given.endsWith(".js") ? [process.execPath, given] : [given];
  const tarball = input("cli-tarball");
  const integrity = input("cli-integrity");
  if (!tarball) throw new Error("cli-tarball (with cli-integrity) or cli-command is required: never install an unpinned CLI");
  const m = /^sha512-([A-Za-z0-9+/]{86}==)$/.exec(integrity);
  if (!m) throw new Error("cli-integrity must be the tarball's sha512 SRI hash (sha512-…)");
  let bytes;
  if (/^https:\/\//.test(tarball)) {
    const r = await fetch(tarball);
    if (!r.ok) throw new Error(`cli-tarball: HTTP ${r.status} from ${tarball}`);
    bytes = Buffer.from(await r.arrayBuffer());
  } else if (/^[a-z]+:\/\//i.test(tarball)) {
    throw new Error("cli-tarball must be an https:// URL or a file path");
  } else {
    bytes = readFileSync(tarball);
  }
  const actual = createHash("sha512").update(bytes).digest("base64");
  if (actual !== m[1]) throw new Error(`cli-tarball integrity mismatch: expected sha512-${m[1]}, got sha512-${actual} — refusing to install it`);
  const file = path.join(work, "gatehouse-cli.tgz");
  writeFileSync(file, bytes, { mode: 0o600 });
  const prefix = path.join(work, "cli");
  // The tarball is already verified; its own dependency tree is locked by its shrinkwrap.
  execFileSync("npm", ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--ignore-scripts", file], { stdio: ["ignore", "inherit", "inherit"] });
  return [path.join(prefix, "node_modules", ".bin", "gatehouse")];
}

main().catch((err) => fail(err.message));
