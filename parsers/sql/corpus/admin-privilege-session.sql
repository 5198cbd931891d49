-- Roles, privileges, sessions, transactions, COPY, EXPLAIN, cursors, procedural statements.

GRANT SELECT ON mytable TO PUBLIC

GRANT SELECT, UPDATE, INSERT ON mytable TO admin

GRANT SELECT (col1), UPDATE (col1) ON mytable TO miriam_rw

GRANT ALL PRIVILEGES ON kinds TO manuel

GRANT admins TO joe

GRANT USAGE ON SCHEMA app TO app_reader

GRANT SELECT ON ALL TABLES IN SCHEMA public TO readonly

GRANT EXECUTE ON FUNCTION pg_read_file(text) TO auditor

GRANT CONNECT ON DATABASE appdb TO app_user

GRANT pg_read_all_data TO analyst WITH ADMIN OPTION

REVOKE INSERT ON films FROM PUBLIC

REVOKE ALL PRIVILEGES ON kinds FROM manuel

REVOKE admins FROM joe

REVOKE CREATE ON SCHEMA public FROM PUBLIC

CREATE ROLE jonathan LOGIN

CREATE ROLE admin WITH CREATEDB CREATEROLE

CREATE USER davide WITH PASSWORD 'jw8s0F4'

CREATE ROLE miriam WITH LOGIN PASSWORD 'jw8s0F4' VALID UNTIL '2005-01-01'

CREATE GROUP staff

ALTER ROLE davide WITH PASSWORD 'hu8jmn3'

ALTER ROLE worker_bee SET maintenance_work_mem = 100000

ALTER USER manuel VALID UNTIL 'Jan 31 2030'

ALTER ROLE fred VALID UNTIL 'infinity'

ALTER ROLE miriam CREATEROLE CREATEDB

ALTER GROUP staff ADD USER karl, john

ALTER ROLE chris RENAME TO christopher

DROP ROLE jonathan

DROP USER IF EXISTS davide

DROP GROUP staff

ALTER DEFAULT PRIVILEGES IN SCHEMA myschema GRANT SELECT ON TABLES TO PUBLIC

ALTER DEFAULT PRIVILEGES FOR ROLE admin REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC

SECURITY LABEL FOR selinux ON TABLE mytable IS 'system_u:object_r:sepgsql_table_t:s0'

REASSIGN OWNED BY old_role TO new_role

CREATE USER MAPPING FOR bob SERVER foo OPTIONS (user 'bob', password 'secret')

ALTER USER MAPPING FOR bob SERVER foo OPTIONS (SET password 'public')

DROP USER MAPPING IF EXISTS FOR bob SERVER foo

SET ROLE paul

SET ROLE NONE

SET LOCAL ROLE app_admin

SET SESSION ROLE readonly

SET role = 'admin'

SET role TO admin

SET SESSION AUTHORIZATION 'paul'

SET SESSION AUTHORIZATION DEFAULT

SET session_authorization = 'joe'

RESET ROLE

RESET SESSION AUTHORIZATION

RESET ALL

RESET search_path

RESET statement_timeout

SET search_path TO my_schema, public

SET datestyle TO postgres, dmy

SET TIME ZONE 'PST8PDT'

SET TIME ZONE LOCAL

SET LOCAL statement_timeout = '5s'

SET SESSION work_mem = '64MB'

SET application_name = 'ci-deploy'

SET lock_timeout TO 1000

SET NAMES 'UTF8'

SET SCHEMA 'app'

SET XML OPTION DOCUMENT

SET TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE

SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ

SET TRANSACTION SNAPSHOT '00000003-0000001B-1'

SET CONSTRAINTS ALL IMMEDIATE

SET myapp.user_id = '42'

SET "myapp.tenant" = 'acme'

DISCARD ALL

DISCARD PLANS

DISCARD SEQUENCES

DISCARD TEMP

LISTEN virtual

UNLISTEN virtual

UNLISTEN *

NOTIFY virtual

NOTIFY virtual, 'This is the payload'

SELECT pg_notify('virtual', 'payload')

CHECKPOINT

LOAD 'auto_explain'

BEGIN

BEGIN WORK

BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED

BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY

START TRANSACTION READ WRITE

COMMIT

COMMIT WORK

COMMIT AND CHAIN

END

END TRANSACTION

ROLLBACK

ROLLBACK AND NO CHAIN

ABORT

SAVEPOINT my_savepoint

RELEASE my_savepoint

RELEASE SAVEPOINT my_savepoint

ROLLBACK TO my_savepoint

PREPARE TRANSACTION 'foobar'

COMMIT PREPARED 'foobar'

ROLLBACK PREPARED 'foobar'

PREPARE fooplan (int, text, bool, numeric) AS INSERT INTO foo VALUES($1, $2, $3, $4)

PREPARE usrrptplan (int) AS SELECT * FROM users u, logs l WHERE u.usrid=$1 AND u.usrid=l.usrid AND l.date = $2

EXECUTE fooplan(1, 'Hunter Valley', 't', 200.00)

EXECUTE usrrptplan(1, current_date)

DEALLOCATE fooplan

DEALLOCATE PREPARE ALL

DO $$DECLARE r record; BEGIN FOR r IN SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'VIEW' AND table_schema = 'public' LOOP EXECUTE 'GRANT ALL ON ' || quote_ident(r.table_schema) || '.' || quote_ident(r.table_name) || ' TO webuser'; END LOOP; END$$

DO LANGUAGE plpgsql $$ BEGIN RAISE NOTICE 'hello'; END $$

DO 'BEGIN PERFORM 1; END'

CALL do_db_maintenance()

CALL insert_data(1, 2)

CALL app.refresh_rollups(p_day => current_date)

DECLARE liahona SCROLL CURSOR FOR SELECT * FROM films

DECLARE c1 CURSOR WITH HOLD FOR SELECT id, name FROM users ORDER BY id

DECLARE c2 NO SCROLL CURSOR WITHOUT HOLD FOR VALUES (1), (2)

DECLARE c3 BINARY CURSOR FOR SELECT * FROM t FOR UPDATE

FETCH FORWARD 5 FROM liahona

FETCH PRIOR FROM liahona

FETCH ALL IN c1

MOVE FORWARD 5 IN liahona

MOVE LAST FROM c1

CLOSE liahona

CLOSE ALL

COPY country TO STDOUT (DELIMITER '|')

COPY country FROM STDIN

COPY country FROM stdin WITH (FORMAT csv, HEADER true)

COPY country (code, name) FROM STDIN WITH (FORMAT csv) WHERE code <> 'XX'

COPY (SELECT * FROM country WHERE country_name LIKE 'A%') TO STDOUT

COPY (SELECT id, email FROM users) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE *)

COPY BINARY country TO STDOUT

COPY country TO STDOUT WITH CSV HEADER

COPY country FROM '/usr1/proj/bray/sql/country_data'

COPY country TO '/usr1/proj/bray/sql/a_list_countries.copy'

COPY country TO PROGRAM 'gzip > /usr1/proj/bray/sql/country_data.gz'

COPY country FROM PROGRAM 'curl -s http://10.0.0.1/data.csv' WITH (FORMAT csv)

COPY (SELECT 1) TO '/tmp/out.txt'

COPY (DELETE FROM queue WHERE done RETURNING *) TO STDOUT

COPY (UPDATE counters SET n = n + 1 RETURNING n) TO STDOUT

COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT

EXPLAIN SELECT * FROM tenk1

EXPLAIN SELECT * FROM tenk1 WHERE unique1 < 7000

EXPLAIN (COSTS FALSE) SELECT * FROM foo WHERE i = 4

EXPLAIN (FORMAT JSON) SELECT * FROM foo

EXPLAIN (VERBOSE, COSTS OFF, SETTINGS) SELECT sum(i) FROM foo

EXPLAIN ANALYZE SELECT * FROM tenk1 t1, tenk2 t2 WHERE t1.unique1 < 10 AND t1.unique2 = t2.unique2

EXPLAIN ANALYZE VERBOSE SELECT 1

EXPLAIN ANALYSE SELECT 1

EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t

EXPLAIN (ANALYZE TRUE, TIMING FALSE) SELECT * FROM t

EXPLAIN (ANALYZE OFF) DELETE FROM t

EXPLAIN (ANALYZE 0) UPDATE t SET a = 1

EXPLAIN (ANALYZE 'false') INSERT INTO t VALUES (1)

EXPLAIN (ANALYZE on, WAL on) INSERT INTO t VALUES (1)

EXPLAIN ANALYZE DELETE FROM t WHERE id = 1

EXPLAIN ANALYZE UPDATE t SET a = 2

EXPLAIN ANALYZE INSERT INTO t SELECT * FROM u

EXPLAIN (ANALYZE) MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE

EXPLAIN UPDATE t SET a = 2 WHERE id = 1

EXPLAIN DELETE FROM t

EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT * FROM t

EXPLAIN CREATE TABLE t2 AS SELECT * FROM t

EXPLAIN ANALYZE CREATE MATERIALIZED VIEW mv AS SELECT 1

EXPLAIN ANALYZE EXECUTE fooplan(1, 'a', true, 1.0)

EXPLAIN EXECUTE usrrptplan(1)

EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d

EXPLAIN (GENERIC_PLAN) SELECT * FROM t WHERE id = $1

EXPLAIN ANALYZE REFRESH MATERIALIZED VIEW mv

EXPLAIN ANALYZE DECLARE c CURSOR FOR SELECT 1

EXPLAIN SELECT * INTO newt FROM t

EXPLAIN ANALYZE SELECT * INTO newt FROM t

EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE

SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'appdb' AND pid <> pg_backend_pid()

SELECT pg_cancel_backend(12345)

SELECT pg_reload_conf()

SELECT pg_rotate_logfile()

SELECT pg_read_file('/etc/passwd')

SELECT pg_read_file('postgresql.conf', 0, 200)

SELECT pg_read_binary_file('global/pg_control')

SELECT * FROM pg_ls_dir('.')

SELECT pg_stat_file('base')

SELECT * FROM pg_ls_waldir()

SELECT lo_import('/etc/passwd')

SELECT lo_export(16385, '/tmp/x')

SELECT lo_unlink(16385)

SELECT lo_get(16385)

SELECT dblink_connect('myconn', 'dbname=postgres')

SELECT * FROM dblink('dbname=mydb', 'select proname, prosrc from pg_proc') AS t1(proname name, prosrc text)

SELECT dblink_exec('myconn', 'DELETE FROM t')

SELECT set_config('role', 'postgres', false)

SELECT set_config('session_authorization', 'postgres', false)

SELECT set_config('statement_timeout', '5s', true)

SELECT pg_catalog.set_config('search_path', '', false)

SELECT set_config(lower('ROLE'), 'postgres', false)

SELECT nextval('serial')

SELECT setval('serial', 42)

SELECT setval('serial', (SELECT max(id) FROM t))

SELECT currval('serial'), lastval()

INSERT INTO t (id) VALUES (nextval('t_id_seq'))

SELECT pg_advisory_xact_lock(42)

SELECT pg_stat_reset()

SELECT pg_create_restore_point('before_deploy')

SELECT pg_switch_wal()

SELECT * FROM pg_create_logical_replication_slot('slot1', 'pgoutput')

SELECT pg_drop_replication_slot('slot1')

SELECT * FROM pg_logical_slot_get_changes('slot1', NULL, NULL)

SELECT current_setting('role'), current_setting('is_superuser')

SELECT pg_sleep(1)

SELECT txid_current()
