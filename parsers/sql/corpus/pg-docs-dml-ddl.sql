-- Data modification and definition in the style of the PostgreSQL documentation.

INSERT INTO weather VALUES ('San Francisco', 46, 50, 0.25, '1994-11-27')

INSERT INTO weather (city, temp_lo, temp_hi, prcp, date) VALUES ('San Francisco', 43, 57, 0.0, '1994-11-29')

INSERT INTO products (product_no, name, price) VALUES (1, 'Cheese', 9.99), (2, 'Bread', 1.99), (3, 'Milk', 2.99)

INSERT INTO products (product_no, name, price) SELECT product_no, name, price FROM new_products WHERE release_date = 'today'

INSERT INTO films DEFAULT VALUES

INSERT INTO distributors (did, dname) VALUES (DEFAULT, 'XYZ Widgets') RETURNING did

INSERT INTO distributors (did, dname) VALUES (5, 'Gizmo Transglobal'), (6, 'Associated Computing, Inc') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname

INSERT INTO distributors (did, dname) VALUES (7, 'Redline GmbH') ON CONFLICT (did) DO NOTHING

INSERT INTO distributors AS d (did, dname) VALUES (8, 'Anvil Distribution') ON CONFLICT (did) DO UPDATE SET dname = EXCLUDED.dname || ' (formerly ' || d.dname || ')' WHERE d.zipcode <> '21201'

INSERT INTO distributors (did, dname) VALUES (9, 'Antwerp Design') ON CONFLICT ON CONSTRAINT distributors_pkey DO NOTHING

INSERT INTO tictactoe (game, board[1:3][1:3]) VALUES (1, '{{" "," "," "},{" "," "," "},{" "," "," "}}')

INSERT INTO employees OVERRIDING SYSTEM VALUE VALUES (1, 'x')

WITH upd AS (UPDATE employees SET sales_count = sales_count + 1 WHERE id = (SELECT sales_person FROM accounts WHERE name = 'Acme Corporation') RETURNING *) INSERT INTO employees_log SELECT *, current_timestamp FROM upd

UPDATE weather SET temp_hi = temp_hi - 2, temp_lo = temp_lo - 2 WHERE date > '1994-11-28'

UPDATE products SET price = 10 WHERE price = 5

UPDATE products SET price = price * 1.10

UPDATE films SET kind = 'Dramatic' WHERE kind = 'Drama'

UPDATE weather SET (temp_lo, temp_hi, prcp) = (temp_lo+1, temp_lo+15, DEFAULT) WHERE city = 'San Francisco' AND date = '2003-07-03' RETURNING temp_lo, temp_hi, prcp

UPDATE employees SET sales_count = sales_count + 1 FROM accounts WHERE accounts.name = 'Acme Corporation' AND employees.id = accounts.sales_person

UPDATE accounts SET (contact_first_name, contact_last_name) = (SELECT first_name, last_name FROM employees WHERE employees.id = accounts.sales_person)

UPDATE summary s SET (sum_x, sum_y, avg_x, avg_y) = (SELECT sum(x), sum(y), avg(x), avg(y) FROM data d WHERE d.group_id = s.group_id)

UPDATE films SET kind = 'Dramatic' WHERE CURRENT OF c_films

DELETE FROM weather WHERE city = 'Hayward'

DELETE FROM products WHERE price = 10

DELETE FROM products

DELETE FROM films USING producers WHERE producer_id = producers.id AND producers.name = 'foo'

DELETE FROM films WHERE producer_id IN (SELECT id FROM producers WHERE name = 'foo')

DELETE FROM tasks WHERE status = 'DONE' RETURNING *

DELETE FROM ONLY cities WHERE name = 'x'

MERGE INTO customer_account ca USING recent_transactions t ON t.customer_id = ca.customer_id WHEN MATCHED THEN UPDATE SET balance = balance + transaction_value WHEN NOT MATCHED THEN INSERT (customer_id, balance) VALUES (t.customer_id, t.transaction_value)

MERGE INTO wines w USING wine_stock_changes s ON s.winename = w.winename WHEN NOT MATCHED AND s.stock_delta > 0 THEN INSERT VALUES(s.winename, s.stock_delta) WHEN MATCHED AND w.stock + s.stock_delta > 0 THEN UPDATE SET stock = w.stock + s.stock_delta WHEN MATCHED THEN DELETE RETURNING merge_action(), w.*

MERGE INTO products p USING new_products n ON p.product_no = n.product_no WHEN MATCHED THEN DO NOTHING WHEN NOT MATCHED BY SOURCE THEN DELETE

SELECT * INTO films_recent FROM films WHERE date_prod >= '2002-01-01'

SELECT * INTO TEMP TABLE tmp_films FROM films

SELECT a, b INTO UNLOGGED new_t FROM t

CREATE TABLE films_recent AS SELECT * FROM films WHERE date_prod >= '2002-01-01'

CREATE TEMP TABLE films_recent ON COMMIT DROP AS EXECUTE recentfilms('2002-01-01')

CREATE TABLE IF NOT EXISTS t_copy AS TABLE t WITH NO DATA

CREATE UNLOGGED TABLE staging (LIKE orders INCLUDING ALL)

CREATE TABLE weather (city varchar(80), temp_lo int, temp_hi int, prcp real, date date)

CREATE TABLE cities (name varchar(80) primary key, location point)

CREATE TABLE capitals (state char(2) UNIQUE NOT NULL) INHERITS (cities)

CREATE TABLE products (product_no integer, name text, price numeric CONSTRAINT positive_price CHECK (price > 0), discounted_price numeric CHECK (discounted_price > 0), CHECK (price > discounted_price))

CREATE TABLE orders (order_id integer PRIMARY KEY, product_no integer REFERENCES products (product_no), quantity integer)

CREATE TABLE order_items (product_no integer REFERENCES products ON DELETE RESTRICT, order_id integer REFERENCES orders ON DELETE CASCADE, quantity integer, PRIMARY KEY (product_no, order_id))

CREATE TABLE people (height_cm numeric, height_in numeric GENERATED ALWAYS AS (height_cm / 2.54) STORED)

CREATE TABLE circles (c circle, EXCLUDE USING gist (c WITH &&))

CREATE TEMPORARY TABLE temp_results (id int) ON COMMIT DELETE ROWS

CREATE TABLE t (id int) WITH (fillfactor = 70) TABLESPACE fast_ssd

CREATE TABLE cinemas (id serial, name text, location text) TABLESPACE diskvol1

CREATE TABLE films_typed OF film_type (PRIMARY KEY (id))

CREATE FOREIGN TABLE films_remote (code char(5) NOT NULL, title varchar(40) NOT NULL) SERVER film_server OPTIONS (schema_name 'public', table_name 'films')

ALTER TABLE products ADD COLUMN description text

ALTER TABLE products DROP COLUMN description CASCADE

ALTER TABLE products ADD CHECK (name <> '')

ALTER TABLE products ALTER COLUMN product_no SET NOT NULL

ALTER TABLE products RENAME TO items

ALTER TABLE distributors ALTER COLUMN address TYPE varchar(80), ALTER COLUMN name TYPE varchar(100)

ALTER TABLE foo ALTER COLUMN foo_timestamp SET DATA TYPE timestamp with time zone USING timestamp with time zone 'epoch' + foo_timestamp * interval '1 second'

ALTER TABLE distributors CLUSTER ON dist_id_index

ALTER TABLE measurement SET TABLESPACE fasttablespace

ALTER TABLE IF EXISTS ONLY public.orders ALTER COLUMN id SET STATISTICS 500

ALTER TABLE t REPLICA IDENTITY FULL

ALTER TABLE t DISABLE TRIGGER ALL

ALTER TABLE t NO INHERIT parent

CREATE INDEX test1_id_index ON test1 (id)

CREATE INDEX test2_mm_idx ON test2 (major, minor)

CREATE INDEX test1_lower_col1_idx ON test1 (lower(col1))

CREATE INDEX orders_unbilled_index ON orders (order_nr) WHERE billed is not true

CREATE UNIQUE INDEX tests_target_one_null ON tests ((target IS NULL)) WHERE target IS NULL

CREATE INDEX CONCURRENTLY sales_quantity_index ON sales_table (quantity)

CREATE INDEX ON films ((lower(title))) INCLUDE (director) WITH (deduplicate_items = off)

CREATE INDEX pointloc ON points USING gist (box(location,location))

REINDEX INDEX my_index

REINDEX TABLE CONCURRENTLY my_broken_table

REINDEX DATABASE broken_db

DROP INDEX title_idx

CREATE VIEW myview AS SELECT name, temp_lo, temp_hi, prcp, date, location FROM weather, cities WHERE city = name

CREATE OR REPLACE VIEW comedies AS SELECT * FROM films WHERE kind = 'Comedy'

CREATE VIEW universal_comedies AS SELECT * FROM comedies WHERE classification = 'U' WITH LOCAL CHECK OPTION

CREATE RECURSIVE VIEW public.nums_1_100 (n) AS VALUES (1) UNION ALL SELECT n+1 FROM nums_1_100 WHERE n < 100

CREATE TEMP VIEW v AS SELECT 1

DROP VIEW IF EXISTS kinds

CREATE MATERIALIZED VIEW sales_summary AS SELECT seller_no, invoice_date, sum(invoice_amt)::numeric(13,2) as sales_amt FROM invoice WHERE invoice_date < CURRENT_DATE GROUP BY seller_no, invoice_date WITH NO DATA

DROP MATERIALIZED VIEW order_summary

CREATE SEQUENCE serial START 101

CREATE SEQUENCE IF NOT EXISTS s2 AS integer INCREMENT 10 MINVALUE 1 NO CYCLE OWNED BY t.id

ALTER SEQUENCE serial RESTART WITH 105

DROP SEQUENCE serial

CREATE SCHEMA myschema

CREATE SCHEMA hollywood CREATE TABLE films (title text, release date, awards text[]) CREATE VIEW winners AS SELECT title, release FROM films WHERE awards IS NOT NULL

DROP SCHEMA myschema CASCADE

ALTER SCHEMA old_name RENAME TO new_name

CREATE TYPE complex AS (r double precision, i double precision)

CREATE TYPE bug_status AS ENUM ('new', 'open', 'closed')

CREATE TYPE float8_range AS RANGE (subtype = float8, subtype_diff = float8mi)

CREATE DOMAIN us_postal_code AS TEXT CHECK (VALUE ~ '^\d{5}$' OR VALUE ~ '^\d{5}-\d{4}$')

ALTER DOMAIN zipcode SET NOT NULL

DROP TYPE box CASCADE

DROP DOMAIN IF EXISTS us_postal_code

TRUNCATE bigtable, fattable

TRUNCATE othertable CASCADE

TRUNCATE ONLY measurement CONTINUE IDENTITY

COMMENT ON TABLE mytable IS 'This is my table.'

COMMENT ON FUNCTION my_function (timestamp) IS 'Returns Roman Numeral'

COMMENT ON COLUMN my_table.my_column IS NULL

COMMENT ON EXTENSION hstore IS 'implements the hstore data type'

VACUUM

VACUUM (VERBOSE, ANALYZE) onek

VACUUM FULL ANALYZE orders

VACUUM (PARALLEL 4, INDEX_CLEANUP off) big_table

ANALYZE

ANALYZE VERBOSE users (email, created_at)

CLUSTER employees USING employees_ind

CLUSTER

CREATE TRIGGER check_update BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION check_account_update()

CREATE TRIGGER log_update AFTER UPDATE ON accounts FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION log_account_update()

CREATE CONSTRAINT TRIGGER t_fk AFTER INSERT ON t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION check_fk()

CREATE OR REPLACE TRIGGER trg BEFORE INSERT OR UPDATE OF price ON products FOR EACH ROW EXECUTE PROCEDURE price_guard()

DROP TRIGGER if_dist_exists ON films

ALTER TRIGGER emp_stamp ON emp RENAME TO emp_track_chgs

CREATE EVENT TRIGGER abort_ddl ON ddl_command_start EXECUTE FUNCTION abort_any_command()

ALTER EVENT TRIGGER abort_ddl DISABLE

CREATE RULE "_RETURN" AS ON SELECT TO t1 DO INSTEAD SELECT * FROM t2

CREATE RULE notify_me AS ON UPDATE TO mytable DO ALSO NOTIFY mytable

CREATE RULE shoe_ins AS ON INSERT TO shoe DO INSTEAD INSERT INTO shoe_data VALUES (NEW.shoename, NEW.sh_avail)

CREATE RULE log_shoelace AS ON UPDATE TO shoelace_data WHERE NEW.sl_avail <> OLD.sl_avail DO (INSERT INTO shoelace_log VALUES (NEW.sl_name, NEW.sl_avail, current_user, current_timestamp); NOTIFY shoelace_changed)

DROP RULE newrule ON mytable

CREATE EXTENSION hstore SCHEMA addons

CREATE EXTENSION IF NOT EXISTS postgis WITH VERSION '3.4.0' CASCADE

ALTER EXTENSION hstore UPDATE TO '2.0'

DROP EXTENSION hstore

CREATE DATABASE lusiadas

CREATE DATABASE sales OWNER salesapp TABLESPACE salesspace

CREATE DATABASE music LOCALE 'sv_SE.utf8' TEMPLATE template0

ALTER DATABASE test RENAME TO mydb

ALTER DATABASE test SET enable_indexscan TO off

DROP DATABASE IF EXISTS scratch WITH (FORCE)

CREATE TABLESPACE dbspace LOCATION '/data/dbs'

DROP TABLESPACE mystuff

CREATE SERVER myserver FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'foo', dbname 'foodb', port '5432')

CREATE FOREIGN DATA WRAPPER dummy

IMPORT FOREIGN SCHEMA foreign_films LIMIT TO (actors, directors) FROM SERVER film_server INTO films

CREATE PUBLICATION mypublication FOR TABLE users, departments

ALTER PUBLICATION mypublication ADD TABLE users_archive

CREATE SUBSCRIPTION mysub CONNECTION 'host=192.168.1.50 port=5432 user=foo dbname=foodb' PUBLICATION mypublication

ALTER SUBSCRIPTION mysub DISABLE

DROP SUBSCRIPTION mysub

CREATE COLLATION german (provider = libc, locale = 'de_DE')

CREATE CAST (bigint AS int4) WITH FUNCTION int4(bigint) AS ASSIGNMENT

CREATE OPERATOR === (LEFTARG = box, RIGHTARG = box, FUNCTION = area_equal_function, COMMUTATOR = ===)

CREATE OPERATOR CLASS gist__int_ops DEFAULT FOR TYPE _int4 USING gist AS OPERATOR 3 &&, FUNCTION 1 g_int_consistent (internal, _int4, smallint, oid, internal)

CREATE AGGREGATE sum_sq (int) (sfunc = int4pl, stype = int4, initcond = '0')

CREATE STATISTICS s1 (dependencies) ON a, b FROM t1

CREATE TEXT SEARCH CONFIGURATION my_config (COPY = english)

ALTER TEXT SEARCH CONFIGURATION my_config ALTER MAPPING FOR word WITH english_stem

CREATE ACCESS METHOD heptree TYPE INDEX HANDLER heptree_handler

CREATE LANGUAGE plsample HANDLER plsample_call_handler

CREATE CONVERSION myconv FOR 'UTF8' TO 'LATIN1' FROM myfunc

CREATE TRANSFORM FOR hstore LANGUAGE plpython3u (FROM SQL WITH FUNCTION hstore_to_plpython(internal), TO SQL WITH FUNCTION plpython_to_hstore(internal))

DROP FUNCTION sqrt(integer)

DROP FUNCTION IF EXISTS update_employee_salaries

DROP PROCEDURE do_db_maintenance()

DROP AGGREGATE myavg(integer)

DROP OPERATOR ^ (integer, integer)

DROP CAST (text AS int)

DROP SERVER IF EXISTS foo

DROP OWNED BY doomed_role

ALTER FUNCTION sqrt(integer) RENAME TO square_root

ALTER FUNCTION check_password(text) SET search_path = admin, pg_temp

ALTER PROCEDURE insert_data(integer, integer) SET SCHEMA accounting

ALTER ROUTINE foo(integer) IMMUTABLE

ALTER AGGREGATE myavg(integer) RENAME TO my_average

ALTER TYPE electronic_mail RENAME TO email

ALTER TYPE compfoo ADD ATTRIBUTE f3 int

ALTER LARGE OBJECT 16385 OWNER TO joe

ALTER SYSTEM SET wal_level = replica

ALTER SYSTEM RESET ALL

ALTER INDEX distributors RENAME TO suppliers

ALTER INDEX distributors SET TABLESPACE fasttablespace

ALTER MATERIALIZED VIEW foo RENAME TO bar

ALTER VIEW foo RENAME TO bar

ALTER VIEW a_view ALTER COLUMN ts SET DEFAULT now()

ALTER FOREIGN TABLE myschema.distributors OPTIONS (ADD opt1 'value', SET opt2 'value2')

ALTER SERVER foo OPTIONS (host 'foo', dbname 'foodb')

ALTER COLLATION "de_DE" RENAME TO german

ALTER STATISTICS s1 SET STATISTICS 1000
