-- CREATE FUNCTION / PROCEDURE in all body styles, including SQL-standard BEGIN ATOMIC bodies
-- (semicolons inside them do not end the statement).

CREATE FUNCTION add(integer, integer) RETURNS integer AS 'select $1 + $2;' LANGUAGE SQL IMMUTABLE RETURNS NULL ON NULL INPUT

CREATE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE SQL IMMUTABLE RETURN a + b

CREATE FUNCTION add(a integer, b integer) RETURNS integer LANGUAGE SQL IMMUTABLE BEGIN ATOMIC SELECT a + b; END

CREATE OR REPLACE FUNCTION increment(i integer) RETURNS integer AS $$ BEGIN RETURN i + 1; END; $$ LANGUAGE plpgsql

CREATE FUNCTION dup(in int, out f1 int, out f2 text) AS $$ SELECT $1, CAST($1 AS text) || ' is text' $$ LANGUAGE SQL

CREATE FUNCTION check_password(uname TEXT, pass TEXT) RETURNS BOOLEAN AS $$ DECLARE passed BOOLEAN; BEGIN SELECT (pwd = $2) INTO passed FROM pwds WHERE username = $1; RETURN passed; END; $$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = admin, pg_temp

CREATE FUNCTION tf1 (acct_no integer, debit numeric) RETURNS numeric AS $body$ UPDATE bank SET balance = balance - debit WHERE accountno = acct_no; SELECT balance FROM bank WHERE accountno = acct_no; $body$ LANGUAGE SQL

CREATE PROCEDURE insert_data(a integer, b integer) LANGUAGE SQL AS $$ INSERT INTO tbl VALUES (a); INSERT INTO tbl VALUES (b); $$

CREATE PROCEDURE insert_data(a integer, b integer) LANGUAGE SQL BEGIN ATOMIC INSERT INTO tbl VALUES (a); INSERT INTO tbl VALUES (b); END

CREATE OR REPLACE PROCEDURE transfer(src int, dst int, amt numeric) LANGUAGE sql BEGIN ATOMIC UPDATE accounts SET balance = balance - amt WHERE id = src; UPDATE accounts SET balance = balance + amt WHERE id = dst; END

CREATE FUNCTION classify(x int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x < 0 THEN 'neg' WHEN x = 0 THEN 'zero' ELSE 'pos' END; END

CREATE FUNCTION nested_case(x int) RETURNS text LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x < 0 THEN CASE WHEN x < -10 THEN 'very' ELSE 'bit' END ELSE 'pos' END; SELECT 'second'; END

CREATE FUNCTION f_atomic_empty() RETURNS void LANGUAGE sql BEGIN ATOMIC END

CREATE FUNCTION get_user(uid int) RETURNS SETOF users LANGUAGE sql STABLE BEGIN ATOMIC SELECT * FROM users WHERE id = uid; END;
SELECT 1

CREATE FUNCTION f1() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
DROP TABLE victims

CREATE OR REPLACE FUNCTION public.audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $function$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO audit(tbl, op, old_row) VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(OLD));
    RETURN OLD;
  END IF;
  INSERT INTO audit(tbl, op, new_row) VALUES (TG_TABLE_NAME, TG_OP, to_jsonb(NEW));
  RETURN NEW;
END;
$function$

CREATE FUNCTION getfoo(int) RETURNS SETOF foo AS $$ SELECT * FROM foo WHERE fooid = $1; $$ LANGUAGE SQL

CREATE FUNCTION sum_n_product(x int, y int, OUT sum int, OUT prod int) AS 'SELECT x + y, x * y' LANGUAGE SQL

CREATE FUNCTION mleast(VARIADIC arr numeric[]) RETURNS numeric AS $$ SELECT min($1[i]) FROM generate_subscripts($1, 1) g(i); $$ LANGUAGE SQL

CREATE FUNCTION foo(a int, b int DEFAULT 2, c int DEFAULT 3) RETURNS int LANGUAGE SQL AS $$ SELECT $1 + $2 + $3; $$

CREATE FUNCTION fn_with_tag() RETURNS text LANGUAGE plpgsql AS $outer$ BEGIN RETURN $inner$ nested $$ text ; $inner$; END $outer$

CREATE OR REPLACE FUNCTION py_add(a integer, b integer) RETURNS integer AS $$ return a + b $$ LANGUAGE plpython3u

CREATE FUNCTION c_overpaid(emp, integer) RETURNS boolean AS 'DIRECTORY/funcs', 'c_overpaid' LANGUAGE C STRICT

CREATE FUNCTION one() RETURNS integer AS ' SELECT 1 AS result; ' LANGUAGE SQL

CREATE FUNCTION add_em(integer, integer) RETURNS integer AS 'SELECT $1 + $2' LANGUAGE SQL PARALLEL SAFE COST 1

CREATE OR REPLACE FUNCTION tenant_id() RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::bigint $$

CREATE FUNCTION quote_test() RETURNS text AS 'SELECT ''it''''s''' LANGUAGE sql

CREATE FUNCTION esc_test() RETURNS text AS E'SELECT \'a;b\'' LANGUAGE sql

CREATE AGGREGATE avg_state (float8) (sfunc = float8_accum, stype = float8[], finalfunc = float8_avg, initcond = '{0,0,0}')

DO $do$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'readonly') THEN CREATE ROLE readonly; END IF; END $do$

DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'orders'); EXCEPTION WHEN duplicate_column THEN NULL; END $$

DO $$
DECLARE
  t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
    EXECUTE format('TRUNCATE %I CASCADE', t);
  END LOOP;
END
$$

CREATE OR REPLACE PROCEDURE cleanup() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM sessions WHERE expires_at < now(); COMMIT; END $$

CALL cleanup()

ALTER FUNCTION add(integer, integer) OWNER TO app_owner

DROP FUNCTION IF EXISTS add(integer, integer)

CREATE FUNCTION f_rec() RETURNS TABLE (id int, name text) LANGUAGE sql BEGIN ATOMIC SELECT 1, 'a'; END

CREATE FUNCTION f_ins(x int) RETURNS void LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (x); DELETE FROM t WHERE id < 0; END

CREATE OR REPLACE FUNCTION f_ret(x int) RETURNS int LANGUAGE sql IMMUTABLE RETURN CASE WHEN x > 0 THEN x ELSE 0 END

CREATE FUNCTION f_with_param_named_begin("begin" int) RETURNS int LANGUAGE sql RETURN "begin" + 1
