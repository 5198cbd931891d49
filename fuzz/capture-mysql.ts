/**
 * MySQL seeds for fuzz/capture.ts: the `mariadb` command-line client (text protocol, multi-statements,
 * errors, warnings, LOCAL INFILE) and mysql2 (prepared statements: COM_STMT_PREPARE/EXECUTE with
 * binary parameters and binary rows, COM_PING, COM_INIT_DB) against a real MariaDB with its own data
 * directory (test/harness/mariadb.ts), through a relay that keeps each direction's bytes.
 *   mysql-packets: each direction cut at packet boundaries (server side: where a response starts,
 *                  so a resultset's column definitions stay with its rows), ≤ 4 KiB per seed
 *   mysql-sql:     every COM_QUERY / COM_STMT_PREPARE text the clients sent, and the classifier's
 *                  own attacker spellings (protocols/mysql/sql/corpus.ts)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { startMariaDb, MARIADB_CLIENT } from "../test/harness/mariadb.ts";
import { PacketFramer } from "../protocols/mysql/codec/packets.ts";
import { ATTACKS } from "../protocols/mysql/sql/corpus.ts";
import { relay } from "./capture-relay.ts";

type WriteSeed = (codec: string, name: string, bytes: Uint8Array, comment: string) => void;
type WriteText = (codec: string, name: string, text: string) => void;

const CLI_SCRIPT = `
CREATE TABLE kinds (id INT PRIMARY KEY AUTO_INCREMENT, t TINYINT, s SMALLINT, b BIGINT UNSIGNED, f FLOAT, d DOUBLE, dec1 DECIMAL(12,3), dt DATETIME(6), da DATE, ti TIME, y YEAR, v VARCHAR(40), bl BLOB, j JSON, e ENUM('a','b'), bits BIT(5));
INSERT INTO kinds (t, s, b, f, d, dec1, dt, da, ti, y, v, bl, j, e, bits) VALUES (-1, 300, 18446744073709551615, 1.5, -2.25e100, 123456789.125, '2024-02-29 12:34:56.789', '1999-12-31', '-838:59:59', 2155, 'it''s \\\\ "q"', x'00ff7f', '{"k": [1, null]}', 'b', b'10101'), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM kinds;
SELECT name, email, card FROM customers WHERE email LIKE '%@example.com' ORDER BY id;
SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.name;
SELECT 1; SELECT 'two', NULL; SHOW WARNINGS;
UPDATE customers SET note = CONCAT(note, '!') WHERE id = 1;
SELECT * FROM no_such_table;
SELECT CAST('x' AS INT), 1/0;
SHOW WARNINGS;
SET @a := 5, sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'; SELECT "id" FROM customers LIMIT 1;
SET sql_mode = DEFAULT;
PREPARE st FROM 'SELECT name FROM customers WHERE id = ?'; SET @i = 2; EXECUTE st USING @i; DEALLOCATE PREPARE st;
START TRANSACTION; DELETE FROM orders WHERE total < 1; ROLLBACK;
/*!50000 SELECT 'versioned' */; /*M!100100 SELECT 'mariadb' */;
SELECT @@version, @@sql_mode, @@character_set_client;
LOAD DATA LOCAL INFILE '__INFILE__' INTO TABLE orders FIELDS TERMINATED BY ',' (customer_id, total);
SHOW TABLES;
DESCRIBE customers;
`;

/** Packets of one direction's bytes (complete ones only), as [offset, length, seq]. */
function packetSpans(bytes: Uint8Array): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  for (let off = 0; off + 4 <= bytes.length; ) {
    const len = bytes[off]! | (bytes[off + 1]! << 8) | (bytes[off + 2]! << 16);
    if (off + 4 + len > bytes.length) break;
    out.push([off, 4 + len, bytes[off + 3]!]);
    off += 4 + len;
  }
  return out;
}

/** Seeds of whole packets, ≤ 4 KiB, a new seed where `startsUnit` says (packets longer than that are cut). */
function seedsOf(bytes: Uint8Array, startsUnit: (seq: number) => boolean): Uint8Array[] {
  const seeds: Uint8Array[] = [];
  let start = 0;
  let end = 0;
  for (const [off, len, seq] of packetSpans(bytes)) {
    if (end > start && (off + len - start > 4096 || (startsUnit(seq) && end - start > 512))) {
      seeds.push(bytes.subarray(start, end));
      start = off;
    }
    end = off + len;
  }
  if (end > start) seeds.push(bytes.subarray(start, Math.min(end, start + 4096)));
  return seeds;
}

export async function captureMysql(writeSeed: WriteSeed, writeText: WriteText): Promise<void> {
  const db = await startMariaDb();
  const cap = await relay(db.port);
  const dir = mkdtempSync(join(tmpdir(), "gatehouse-mysql-capture-"));
  try {
    const infile = join(dir, "orders.csv");
    writeFileSync(infile, "1,5.00\n2,6.50\n");
    const { user, password } = db.levels.admin;
    await new Promise<void>((resolve, reject) => {
      const child = spawn(MARIADB_CLIENT!, ["--no-defaults", "-h", "127.0.0.1", "-P", String(cap.port), "-u", user, `-p${password}`, "--skip-ssl", "--local-infile=1", "--force", db.database], { stdio: ["pipe", "ignore", "ignore"] });
      child.on("error", reject);
      child.on("exit", () => resolve());
      child.stdin.end(CLI_SCRIPT.replace("__INFILE__", infile));
    });
    const conn = await mysql.createConnection({ host: "127.0.0.1", port: cap.port, user, password, database: db.database });
    await conn.execute("SELECT * FROM kinds WHERE id >= ? AND v <> ?", [1, "x'y"]);
    await conn.execute("SELECT id, name, email FROM customers WHERE id IN (?, ?, ?)", [1, 2, 3]);
    await conn.execute("INSERT INTO orders (customer_id, total, created) VALUES (?, ?, ?)", [2, 12.5, new Date(Date.UTC(2024, 0, 2, 3, 4, 5))]);
    await conn.execute("SELECT ?, ?, ?, ?", [null, Buffer.from([0, 1, 255]), 2 ** 40, -1.5]);
    await conn.query("SELECT name FROM customers; SELECT COUNT(*) FROM orders").catch(() => undefined);
    await conn.execute("SELECT * FROM nope WHERE id = ?", [1]).catch(() => undefined);
    await conn.ping();
    await conn.changeUser({ database: db.database }).catch(() => undefined);
    await conn.end();
  } finally {
    await cap.stop();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const texts = new Set<string>();
  cap.sessions.forEach((s, i) => {
    const up = new Uint8Array(Buffer.concat(s.up));
    const down = new Uint8Array(Buffer.concat(s.down));
    seedsOf(up, () => true).forEach((b, k) => writeSeed("mysql-packets", `s${i}-client-${String(k).padStart(2, "0")}`, b, `session ${i} (${i === 0 ? "mariadb client" : "mysql2"}): client → server packets`));
    seedsOf(down, (seq) => seq <= 1).forEach((b, k) => writeSeed("mysql-packets", `s${i}-server-${String(k).padStart(2, "0")}`, b, `session ${i} (${i === 0 ? "mariadb client" : "mysql2"}): server → client packets`));
    for (const p of new PacketFramer().push(up)) {
      if (p.payload[0] === 0x03 || p.payload[0] === 0x16) texts.add(new TextDecoder().decode(p.payload.subarray(1)));
    }
  });
  [...texts].forEach((t, k) => writeText("mysql-sql", `captured-${String(k).padStart(2, "0")}`, t));
  ATTACKS.forEach((t, k) => writeText("mysql-sql", `attack-${String(k).padStart(2, "0")}`, t));
}
