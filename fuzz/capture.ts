/**
 * Builds the seed corpora in fuzz/corpus/ from real traffic, once (the files are committed):
 *   node bin/run-ts.mjs fuzz/capture.ts
 * - PostgreSQL: psql (simple protocol, COPY, errors, notices) and node-postgres (extended protocol,
 *   binary parameters) against a real PostgreSQL, through a relay that keeps each direction's bytes.
 * - SFTP: OpenSSH's sftp client driving OpenSSH's sftp-server (sftp -D), both directions via tee.
 * - Tunnel and SSH: the frames the real client code encodes (tunnel/frames.ts, ssh/frames.ts) for
 *   the control messages and channel data of an SSH session (their own encoders, not hand-made bytes).
 * - SQL / COPY options: the statements of the captured sessions; shell: CI command lines; policy:
 *   examples/policies/*.yaml.
 * - MySQL and Kubernetes: capture-mysql.ts (the `mariadb` client and mysql2 against a real
 *   MariaDB) and capture-kubernetes.ts (kubectl against the test API server).
 *
 * `-- --only=mysql,kubernetes` recaptures only those groups' folders (the others, and every
 * `regression-*` seed, are kept).
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startPostgres } from "../test/harness/postgres.ts";
import { toHex } from "../parsers/encoding/hex-base64.ts";
import { encodeControl, encodeCredit, encodeData } from "../parsers/tunnel/frames.ts";
import { encodeChannelEvent, encodeSshData, STREAM_STDERR, STREAM_STDOUT } from "../protocols/ssh/codec/frames.ts";
import { CORPUS_DIR } from "./corpus.ts";
import { relay } from "./capture-relay.ts";
import { captureMysql } from "./capture-mysql.ts";
import { captureKubernetes } from "./capture-kubernetes.ts";

const REPO = new URL("..", import.meta.url).pathname;

export type WriteSeed = typeof writeSeed;
export type WriteText = typeof writeText;

function writeSeed(codec: string, name: string, bytes: Uint8Array, comment: string): void {
  const dir = join(CORPUS_DIR, codec);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.hex`), `# ${comment}\n${toHex(bytes).replace(/(.{64})/g, "$1\n")}\n`);
}
function writeText(codec: string, name: string, text: string): void {
  const dir = join(CORPUS_DIR, codec);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.txt`), text);
}

/** Splits framed PostgreSQL bytes (after the startup packet) into messages. */
function pgMessages(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off + 5 <= bytes.length; ) {
    const len = ((bytes[off + 1]! << 24) | (bytes[off + 2]! << 16) | (bytes[off + 3]! << 8) | bytes[off + 4]!) >>> 0;
    out.push(bytes.subarray(off, off + 1 + len));
    off += 1 + len;
  }
  return out;
}

const PSQL_SCRIPT = `
create table customers(id serial primary key, email text, card text, note jsonb, blob bytea);
insert into customers(email, card, note, blob) values ('ana@example.com', '4111 1111 1111 1111', '{"k": [1, 2]}', '\\x00ff10'), ('bo@example.org', null, null, null);
select * from customers where email like '%@example.%' order by id;
select count(*), now()::date > '2000-01-01' as ok, E'tab\\there', $$dollar 'quoted'$$, U&'\\0041';
begin; update customers set note = note || '{"x": 1}' where id = 1; savepoint s1; rollback to s1; commit;
copy customers(email, card) to stdout with (format csv, header true);
copy (select id, email from customers) to stdout (format text, delimiter '|');
copy customers(email) from stdin;
zed@example.net
\\.
do $$ begin raise notice 'hello %', 42; end $$;
select 1/0;
set search_path = public, pg_catalog; show search_path; reset all;
prepare q(int) as select * from customers where id = $1; execute q(1); deallocate q;
with d as (delete from customers where id = 2 returning *) select * from d;
explain select * from customers;
select pg_sleep(0), current_setting('standard_conforming_strings');
`;

async function capturePostgres(): Promise<string[]> {
  const target = await startPostgres({ auth: "trust" });
  const cap = await relay(target.port);
  const statements: string[] = [];
  try {
    const url = `postgres://${target.user}@127.0.0.1:${cap.port}/${target.database}?sslmode=disable`;
    // Asynchronous: the relay runs in this process and must keep serving while psql talks.
    await new Promise<void>((resolve, reject) => {
      const child = spawn("psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=0", "-f", "-"], { stdio: ["pipe", "ignore", "ignore"] });
      child.on("error", reject);
      child.on("exit", () => resolve());
      child.stdin.end(PSQL_SCRIPT);
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query("select $1::int + $2::int as sum, $3::text as t", [1, 2, "x'y"]);
    await client.query({ text: "insert into customers(email, blob) values ($1, $2) returning id", values: ["bin@example.com", Buffer.from([0, 1, 2, 255])] });
    await client.query({ text: "select id, email from customers where id = any($1)", values: [[1, 3]], rowMode: "array" });
    await client.query("select * from nope").catch(() => {});
    await client.end();
  } finally {
    await cap.stop();
    await target.stop();
  }
  cap.sessions.forEach((s, i) => {
    const up = new Uint8Array(Buffer.concat(s.up));
    const down = new Uint8Array(Buffer.concat(s.down));
    const startupLen = new DataView(up.buffer, up.byteOffset).getInt32(0);
    const startup = up.subarray(0, startupLen);
    writeSeed("pg-messages", `s${i}-startup`, startup, `session ${i}: client startup packet`);
    const client = pgMessages(up.subarray(startupLen));
    const server = pgMessages(down);
    // The framer sees whole streams (in ≤ 8 KiB pieces, the generator's input size).
    for (const [dir, bytes] of [["client", up.subarray(startupLen)], ["server", down]] as const) {
      for (let off = 0, n = 0; off < bytes.length && n < 6; off += 8192, n++) writeSeed("pg-frame", `s${i}-${dir}-${n}`, bytes.subarray(off, off + 8192), `session ${i}: ${dir} stream bytes ${off}…`);
    }
    const perType = new Map<number, number>();
    for (const m of [...client, ...server]) {
      const count = perType.get(m[0]!) ?? 0;
      if (count >= 4) continue;
      perType.set(m[0]!, count + 1);
      writeSeed("pg-messages", `s${i}-${String.fromCharCode(m[0]!)}-${count}`, m, `session ${i}: '${String.fromCharCode(m[0]!)}' message as sent`);
    }
    for (const m of client) {
      if (m[0] === 0x51) statements.push(new TextDecoder().decode(m.subarray(5, m.length - 1)));
      if (m[0] === 0x50) {
        const body = m.subarray(5);
        const nameEnd = body.indexOf(0);
        statements.push(new TextDecoder().decode(body.subarray(nameEnd + 1, body.indexOf(0, nameEnd + 1))));
      }
    }
  });
  return statements;
}

function captureSftp(): void {
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-sftp-capture-"));
  try {
    const root = join(dir, "root");
    mkdirSync(root);
    writeFileSync(join(root, "remote.txt"), "remote file\n".repeat(100));
    writeFileSync(join(dir, "local.bin"), Buffer.alloc(70_000, 7));
    const wrapper = join(dir, "server.sh");
    writeFileSync(wrapper, `#!/bin/sh\ncd ${root}\ntee ${dir}/c2s.bin | /usr/lib/openssh/sftp-server -e -d ${root} | tee ${dir}/s2c.bin\n`);
    chmodSync(wrapper, 0o755);
    const batch = ["ls -l", "put local.bin up.bin", "get remote.txt " + join(dir, "got.txt"), "mkdir d", "rename up.bin d/moved.bin", "chmod 600 d/moved.bin", "symlink d/moved.bin link", "ln -s remote.txt l2", "df", "rm d/moved.bin", "rmdir d", "-rm nope", "stat remote.txt", "quit"].join("\n");
    spawnSync("sftp", ["-b", "-", "-D", wrapper], { input: batch, cwd: dir, encoding: "utf8" });
    for (const dirName of ["c2s", "s2c"] as const) {
      const bytes = new Uint8Array(readFileSync(join(dir, `${dirName}.bin`)));
      const packets: Uint8Array[] = [];
      for (let off = 0; off + 4 <= bytes.length; ) {
        const len = new DataView(bytes.buffer, bytes.byteOffset + off).getUint32(0);
        packets.push(bytes.subarray(off, off + 4 + len));
        off += 4 + len;
      }
      const perType = new Map<number, number>();
      packets.forEach((p) => {
        const n = perType.get(p[4]!) ?? 0;
        if (n >= 3) return;
        perType.set(p[4]!, n + 1);
        writeSeed("sftp", `${dirName}-type${p[4]}-${n}`, p.subarray(0, 4096), `OpenSSH sftp ${dirName === "c2s" ? "client→server" : "server→client"} packet type ${p[4]}`);
      });
      writeSeed("sftp", `${dirName}-stream-head`, bytes.subarray(0, 2048), `OpenSSH sftp ${dirName} stream, first 2 KiB`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function encoderSeeds(): void {
  const enc = (s: string) => new TextEncoder().encode(s);
  const controls: Array<Record<string, unknown> & { t: string }> = [
    { t: "ssh.start", client: "OpenSSH_9.2p1" },
    { t: "ssh.exec", ch: 0, command: "git -C /srv/app pull --ff-only && systemctl restart app", env: { LANG: "C.UTF-8" } },
    { t: "ssh.shell", ch: 1, pty: { term: "xterm-256color", cols: 120, rows: 40, width: 0, height: 0 }, agent: true },
    { t: "ssh.subsystem", ch: 2, name: "sftp" },
    { t: "ssh.window", ch: 1, cols: 80, rows: 24, width: 640, height: 480 },
    { t: "ssh.signal", ch: 0, name: "INT" },
    { t: "ssh.exec", ch: 3, command: "xclock", x11: { single: false, protocol: "MIT-MAGIC-COOKIE-1", cookie: "0123456789abcdef0123456789abcdef", screen: 0 } },
    { t: "ssh.forward", id: 1, kind: "local", ch: 4, host: "db.internal", port: 5432, originHost: "127.0.0.1", originPort: 50000 },
    { t: "ssh.forward", id: 2, kind: "remote", host: "localhost", port: 8080 },
    { t: "ssh.forward", id: 3, kind: "streamlocal", ch: 5, path: "/run/docker.sock" },
    { t: "ssh.forward", id: 4, kind: "remote", host: "localhost", port: 8080, cancel: true },
    { t: "ssh.incoming", ch: 2147483648, kind: "remote", host: "localhost", port: 8080, originHost: "10.0.0.5", originPort: 40000 },
    { t: "ssh.listen-result", id: 2, ok: true, port: 8080 },
    { t: "session.start", resource: "prod-db", protocol: "postgres" },
  ];
  controls.forEach((m, i) => {
    writeSeed("ssh", `control-${i}`, enc(JSON.stringify(m)), `control message ${m.t} as the client encodes it`);
    writeSeed("tunnel", `control-${i}`, encodeControl(m), `CONTROL frame ${m.t}`);
  });
  const data: Array<[string, Uint8Array]> = [
    ["stdout", encodeSshData(0, STREAM_STDOUT, enc("total 8\ndrwxr-xr-x 2 root root 4096 .\n"))],
    ["stderr", encodeSshData(0, STREAM_STDERR, enc("bash: foo: command not found\n"))],
    ["exit", encodeChannelEvent(0, { t: "exit", code: 0 })],
    ["exit-signal", encodeChannelEvent(1, { t: "exit", signal: "KILL", coreDumped: true, message: "killed" })],
    ["eof", encodeChannelEvent(2, { t: "eof" })],
    ["error", encodeChannelEvent(3, { t: "error", message: "open failed" })],
    ["open", encodeChannelEvent(4, { t: "open" })],
  ];
  for (const [name, payload] of data) {
    writeSeed("ssh", `data-${name}`, payload, `SSH DATA payload (${name}) as the engines encode it`);
    writeSeed("tunnel", `data-${name}`, encodeData(payload), `DATA frame carrying SSH ${name}`);
  }
  writeSeed("tunnel", "credit", encodeCredit(65536), "CREDIT frame");
}

function textSeeds(statements: readonly string[], other: boolean): void {
  const unique = [...new Set(statements.map((s) => s.trim()).filter(Boolean))];
  unique.forEach((s, i) => writeText("sql", `captured-${String(i).padStart(2, "0")}`, s));
  unique.filter((s) => /^\s*copy\b/i.test(s)).forEach((s, i) => writeText("copy-options", `captured-${i}`, s));
  if (!other) return;
  const ci = [
    "set -euo pipefail; cd /srv/app && git pull --ff-only && npm ci && npm run build",
    "sudo -u deploy env RAILS_ENV=production bundle exec rake db:migrate 2>&1 | tee -a /var/log/deploy.log",
    "for f in /etc/app/*.conf; do cp \"$f\" \"$f.bak\"; done; systemctl reload nginx || journalctl -u nginx -n 50",
    "find /var/tmp -name '*.tmp' -mtime +7 -exec rm -f {} +",
    "bash -c 'echo $(date +%F) >> ~/.deploys' && cat <<'EOF' > /tmp/x\nhello $USER\nEOF",
    "kubectl get pods -n prod -o json | jq -r '.items[].metadata.name' | xargs -n1 kubectl logs --tail=20",
    "docker run --rm -v \"$PWD\":/w -w /w node:20 sh -c \"npm test -- --reporter=dot\"",
    "tar czf - /srv/app/releases/$(ls -t /srv/app/releases | head -1) | ssh backup@host 'cat > /backups/app.tgz'",
    "psql \"$DATABASE_URL\" -c 'select 1' && echo ok || { echo failed >&2; exit 1; }",
    "crontab -l | { cat; echo '0 3 * * * /usr/local/bin/backup'; } | crontab -",
  ];
  ci.forEach((c, i) => writeText("shell", `ci-${i}`, c));
  for (const f of readdirSync(join(REPO, "examples/policies"))) writeText("policy", f.replace(/\.yaml$/, ""), readFileSync(join(REPO, "examples/policies", f), "utf8"));
}

/** Which codecs' folders each capture group writes. */
const GROUPS: Record<string, string[]> = {
  postgres: ["pg-frame", "pg-messages", "sql", "copy-options"],
  sftp: ["sftp"],
  encoders: ["ssh", "tunnel"],
  text: ["shell", "policy"],
  mysql: ["mysql-packets", "mysql-sql"],
  kubernetes: ["k8s-spdy", "k8s-inflate", "k8s-websocket", "k8s-body-name"],
};
const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7).split(",") ?? Object.keys(GROUPS);
for (const g of only) {
  for (const codec of GROUPS[g] ?? []) {
    const dir = join(CORPUS_DIR, codec);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (!f.startsWith("regression-")) rmSync(join(dir, f));
  }
}
let statements: string[] = [];
if (only.includes("postgres")) {
  console.log("capturing PostgreSQL…");
  statements = await capturePostgres();
}
if (only.includes("sftp")) {
  console.log("capturing SFTP…");
  captureSftp();
}
if (only.includes("encoders")) encoderSeeds();
if (only.includes("postgres") || only.includes("text")) textSeeds(statements, only.includes("text"));
if (only.includes("mysql")) {
  console.log("capturing MySQL (mariadb client, mysql2 → MariaDB)…");
  await captureMysql(writeSeed, writeText);
}
if (only.includes("kubernetes")) {
  console.log("capturing Kubernetes (kubectl → test API server)…");
  await captureKubernetes(writeSeed);
}
console.log(execFileSync("sh", ["-c", `cd ${CORPUS_DIR} && for d in *; do echo "$d: $(ls $d | wc -l) seeds"; done`], { encoding: "utf8" }));
