import { describe, it, expect } from "vitest";
import { analyzeTaint, type TaintCatalog } from "./analyze.ts";

const MASKED = new Map([["email", 0], ["card_number", 0], ["password_hash", 1], ["api_token", 1]]);
const COLUMNS = new Map<string, ReadonlySet<string>>([
  ["customers", new Set(["id", "name", "email", "card_number", "password_hash", "api_token", "created_at"])],
  ["orders", new Set(["id", "customer_id", "total", "created_at"])],
]);
const catalog: TaintCatalog = {
  columnRule: (c) => MASKED.get(c.toLowerCase()) ?? -1,
  maskedTables: new Map([["customers", 0]]),
  taintingRelations: new Set(["customer_view", "pg_stats"]),
  userFunctions: new Set(["leak"]),
  userOperators: new Set(["==="]),
  knownRelations: new Set(["customers", "orders", "customer_view", "pg_stats", "pg_class"]),
  relationColumns: (r) => COLUMNS.get(r),
  defaultRule: 0,
};
const taint = (sql: string, options = {}) => analyzeTaint(sql, catalog, options);

describe("taint analysis", () => {
  it.each([
    "select reverse(email) from customers",
    'select upper("email") from customers',
    "select c/**/.email || '' from customers c",
    "select c from customers c",
    "select row_to_json(c) from customers as c",
    "select to_jsonb(customers) from customers",
    "select (c.*)::text from customers c",
    "select row_to_json(t) from (select * from customers) t",
    "select j from (customers join orders using (id)) j",
    "select x from customers natural full join customers c2",
    "select t from (table customers) t",
    "select reverse(e) from (table customers) s(i, n, e)",
    "select reverse(e) from (select 1) q, lateral (table only public.customers limit 3) s(a, b, e)",
    "with s(i, n, e) as (table customers) select reverse(e) from s",
    "with s(i, n, e) as (table public.customers) select reverse(e) from s",
    "select reverse(e) from customers * t(i, n, e)",
    "select reverse(e) from only customers * as t(i, n, e)",
    "select reverse(t::text) from customers * t",
    "select 1 as x --\r, reverse(card_number) from customers",
    `select reverse(U&"!0063ard_number" UESCAPE '!') from customers`,
    "with t as (select * from customers) select t::text from t",
    "select * from customer_view",
    "select leak(1)",
    "select query_to_xml('select em' || 'ail from cust' || 'omers', true, false, '')",
    "do $$ begin raise notice '%', (select api_token from customers limit 1); end $$",
    "execute p",
    "fetch all from c",
    // MOVE runs the cursor's query as FETCH does (its errors quote the values)
    "move forward all in c",
    // EXPLAIN ANALYZE runs the prepared statement (its errors quote the values)
    "explain analyze execute p",
    "explain (analyze, costs off) execute p",
    "select 1; explain analyze execute p(1)",
    'select U&"\\0065mail" from customers',
    "select x from brand_new_view",
    "select most_common_vals from pg_stats",
    // other sessions' statement text holds masked values as literals
    "select query from pg_stat_activity",
    "select pg_stat_get_backend_activity(b) from pg_stat_get_backend_idset() b",
    "select query from pg_stat_get_activity(null)",
    "select trim(from c::text) from customers c",
    "select name, name, name from customers union all select email, card_number, api_token from customers",
    "select name, name, name, name, name, name, created_at from customers union all select * from customers",
    "select count(*) from (select * from customers) t",
    // attribute notation: `c.f` is `f(c)` when f is not a column, the whole row
    "select reverse(c.concat) from customers c",
    "select encode(convert_to(c.row_to_json::text, 'UTF8'), 'base64') from customers c",
    "select reverse(customers.quote_literal) from customers",
    "select reverse(public.customers.to_jsonb::text) from public.customers",
    'select reverse(c."to_json"::text) from customers c',
    "select md5(t.to_json::text) from (select * from customers) t",
    "select o.leak from orders o",
    // a user operator runs its function without naming it
    "select reverse(1 === 1)",
    "select 1 operator(public.===) 2",
    "select 1===-1",
    "select id from orders where id ==== 1",
  ])("taints %s", (sql) => {
    expect(taint(sql).taint).not.toBeNull();
  });

  it.each([
    "select id, name from customers",
    "select count(*) from customers",
    "select upper(name), id * 2 from customers c where c.id = 1",
    "select * from customers",
    "table customers",
    "select 1; table customers",
    "select id * 2 from customers c",
    "select upper(n) from orders o(i, n)",
    "select now(), version()",
    "select extract(year from created_at) from customers",
    "select relname from pg_class",
    "select c.relname from pg_catalog.pg_class c where c.relname operator(pg_catalog.~) '^(customers)$'",
    "select 'my email address'",
    "with recursive x(n) as (select 1 union all select n + 1 from x where n < 3) select n * 2 from x",
    "select upper(c.name), c.id + 1, customers.id from customers c, customers",
    "select upper(c.name), o.total * 2 from customers c join orders o on o.customer_id = c.id",
    "select 1 = 1, 'a' || 'b', 2 >= 1, '===' as s, 3 -- ===\n",
    "select 1 == /* === */ 1",
    "select count(*) from public.customers",
  ])("leaves %s clean", (sql) => {
    expect(taint(sql).taint).toBeNull();
  });

  it("refuses writes and sinks fed with masked data", () => {
    expect(taint("insert into t select email from customers", { kinds: ["write"] }).refusal).toMatch(/may not use masked data/);
    expect(taint("insert into t select * from customers", { kinds: ["write"] }).refusal).toMatch(/may not read a table with masked columns/);
    expect(taint("select pg_notify('c', email) from customers").refusal).toMatch(/pg_notify/);
    expect(taint("select set_config('application_name', email, false) from customers").refusal).toMatch(/set_config/);
    expect(taint("do $$ begin insert into t select email from customers; end $$").refusal).toMatch(/writes/);
    expect(taint("do $$ begin perform pg_notify('c', (select email from customers limit 1)); end $$").refusal).toMatch(/pg_notify/);
    expect(taint("insert into orders (status) values ('paid')", { kinds: ["write"] }).refusal).toBeNull();
    // writing into a masked table is not a leak; copying a masked value elsewhere in it is
    expect(taint("insert into customers (name) values ('x')", { kinds: ["write"] }).refusal).toBeNull();
    expect(taint("update public.customers set name = 'x' where id = 1", { kinds: ["write"] }).refusal).toBeNull();
    expect(taint("copy customers from stdin", { kinds: ["write"] }).refusal).toBeNull();
    expect(taint("update customers set name = 'x' where id = 1", { kinds: ["write"] }).taint?.messagesOnly).toBe(true);
    expect(taint("update customers set name = 'x' where customers.id = 1 returning customers.id + 1", { kinds: ["write"] }).taint?.messagesOnly).toBe(true);
    expect(taint("update customers c set name = 'x' where id = 1 returning c.concat", { kinds: ["write"] }).refusal).toMatch(/masked data/);
    expect(taint("update customers set name = email where id = 1", { kinds: ["write"] }).refusal).toMatch(/masked data/);
    expect(taint("update customers c set name = c::text", { kinds: ["write"] }).refusal).toMatch(/masked data/);
    expect(taint("insert into orders select * from customers", { kinds: ["write"] }).refusal).toMatch(/masked columns/);
  });

  it("refuses DDL that makes a user function run unnamed (operators, types)", () => {
    const ddl = { kinds: ["ddl"] };
    expect(taint("create operator <<~>> (function = leak, leftarg = int, rightarg = int)", ddl).refusal).toMatch(/function leak/);
    expect(taint("create operator public.<<~>> (procedure = public.leak, leftarg = int, rightarg = int)", ddl).refusal).toMatch(/function leak/);
    expect(taint("create type t (input = leak, output = textout)", ddl).refusal).toMatch(/function leak/);
    expect(taint("create operator <<~>> (function = pg_catalog.int4eq, leftarg = int, rightarg = int)", ddl).refusal).toBeNull();
  });

  it("names the functions a statement creates or renames", () => {
    expect(taint("create or replace function public.f2(i int) returns text language sql as 'select 1'").defines).toEqual(["f2"]);
    expect(taint("do $$ begin execute 'create function g() returns int language sql as ''select 1'''; end $$").defines).toEqual(["g"]);
    expect(taint("alter function f2(int) rename to f3").defines).toEqual(["f2", "f3"]);
    expect(taint("select $$ U&\"\\0065mail\" $$").taint).not.toBeNull();
  });

  it("COMMIT runs the query of a WITH HOLD cursor: its messages are tainted once a tainted statement may have declared one", () => {
    expect(taint("declare c cursor with hold for select api_token::int from customers").holdCursor).toBe(true);
    expect(taint("declare c cursor with/* */hold for select 1").holdCursor).toBe(true);
    expect(taint("declare c cursor for select api_token from customers").holdCursor).toBeUndefined();
    for (const sql of ["commit", "END", "begin; commit and chain", "end transaction"]) {
      expect(taint(sql).taint, sql).toBeNull();
      expect(taint(sql, { holdCursors: true }).taint, sql).toMatchObject({ messagesOnly: true });
    }
    expect(taint("rollback", { holdCursors: true }).taint).toBeNull();
  });

  it("a statement on a table with row-level-security policies has its messages tainted, not its rows, and is not refused", () => {
    const policed = { ...catalog, policyRelations: new Set(["orders"]) };
    for (const sql of ["select id from orders", "insert into orders values (1)"]) {
      const v = analyzeTaint(sql, policed, { kinds: [sql.startsWith("insert") ? "write" : "read"] });
      expect(v.taint, sql).toMatchObject({ messagesOnly: true });
      expect(v.refusal, sql).toBeNull();
    }
    expect(analyzeTaint("select 'orders'", policed).taint).toBeNull();
  });

  it("settings read after opaque code ran are derived", () => {
    expect(taint("select current_setting('my.x')").taint).toBeNull();
    expect(taint("select current_setting('my.x')", { settingsTainted: true }).taint).not.toBeNull();
    expect(taint("show application_name", { settingsTainted: true }).taint).not.toBeNull();
  });

  it("predicates: refuse closes boolean and ordering oracles", () => {
    const p = { refusePredicates: true };
    for (const sql of [
      "select id from customers where email like 'a%'",
      "select id from customers c order by c.card_number",
      "select count(*) from customers group by password_hash",
      "select id from orders o join customers c on c.email = 'x'",
      "select id from customers c where c::text like '%a%'",
      "select id from customers where id in (select id from customers where api_token > 'g')",
      "select id from (select id, email as e from customers) s where s.e like 'a%'",
      "select id from customer_view where x = 1",
      "select id, email from customers order by 2",
      "select card_number, count(*) from customers group by 1",
      "select email from customers intersect select 'guess'",
      "select 'guess' except all select email from customers",
      "select email from customers union select 'guess'",
      "(select email from customers) union distinct (select 'guess')",
      "select distinct email = 'guess' from customers",
      "select count(*) from (select distinct x from (select email x from customers union all select 'g') s) t",
    ]) {
      expect(taint(sql, p).refusal, sql).toMatch(/refuses/);
    }
    expect(taint("select id, email from customers where id = 1", p).refusal).toBeNull();
    expect(taint("select id, email from customers where id = 1 order by id limit 5", p).refusal).toBeNull();
    expect(taint("select id from customers where email like 'a%'").refusal).toBeNull();
    // no rows compared: UNION ALL keeps every row, count(distinct …) is one row with a masked value
    expect(taint("select email from customers union all select 'guess'", p).refusal).toBeNull();
    expect(taint("select count(distinct email) from customers", p).refusal).toBeNull();
    expect(taint("select email from customers intersect select 'guess'").refusal).toBeNull();
  });
});
