import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { startMariaDb, type RunningMariaDb } from "./mariadb.ts";

describe("MariaDB test harness", () => {
  let db: RunningMariaDb;
  beforeAll(async () => {
    db = await startMariaDb();
  });
  afterAll(async () => {
    await db?.stop();
  });

  it("runs its own server (not :3306) with the demo schema", async () => {
    expect(db.port).not.toBe(3306);
    expect(db.socket.startsWith(db.dir)).toBe(true);
    expect((await db.rootSql("SELECT COUNT(*) FROM customers", db.database)).trim()).toBe("3");
  });

  it("gives each access level exactly its privileges", async () => {
    const connect = (lvl: "read" | "write" | "admin") =>
      mysql.createConnection({ host: db.host, port: db.port, user: db.levels[lvl].user, password: db.levels[lvl].password, database: db.database });
    const reader = await connect("read");
    const [rows] = await reader.query("SELECT name FROM customers ORDER BY id");
    expect((rows as { name: string }[])[0].name).toBe("Ada Lovelace");
    await expect(reader.query("DELETE FROM orders")).rejects.toMatchObject({ code: "ER_TABLEACCESS_DENIED_ERROR" });
    await reader.end();
    const writer = await connect("write");
    await writer.query("UPDATE orders SET total = total WHERE id = 1");
    await expect(writer.query("CREATE TABLE t (a int)")).rejects.toMatchObject({ code: "ER_TABLEACCESS_DENIED_ERROR" });
    await writer.end();
    const admin = await connect("admin");
    await admin.query("CREATE TABLE t (a int)");
    await admin.query("DROP TABLE t");
    await expect(admin.query("CREATE USER x IDENTIFIED BY 'y'")).rejects.toMatchObject({ code: "ER_SPECIFIC_ACCESS_DENIED_ERROR" });
    await admin.end();
  });
});
