-- Queries in the style of the PostgreSQL documentation (tutorial, SELECT, queries chapters).

SELECT * FROM weather

SELECT city, temp_lo, temp_hi, prcp, date FROM weather

SELECT city, (temp_hi+temp_lo)/2 AS temp_avg, date FROM weather

SELECT * FROM weather WHERE city = 'San Francisco' AND prcp > 0.0

SELECT * FROM weather ORDER BY city, temp_lo

SELECT DISTINCT city FROM weather ORDER BY city

SELECT * FROM weather JOIN cities ON city = name

SELECT weather.city, weather.temp_lo, weather.temp_hi, weather.prcp, weather.date, cities.location FROM weather JOIN cities ON weather.city = cities.name

SELECT * FROM weather LEFT OUTER JOIN cities ON weather.city = cities.name

SELECT w1.city, w1.temp_lo AS low, w1.temp_hi AS high, w2.city, w2.temp_lo AS low, w2.temp_hi AS high FROM weather w1 JOIN weather w2 ON w1.temp_lo < w2.temp_lo AND w1.temp_hi > w2.temp_hi

SELECT max(temp_lo) FROM weather

SELECT city FROM weather WHERE temp_lo = (SELECT max(temp_lo) FROM weather)

SELECT city, count(*), max(temp_lo) FROM weather GROUP BY city HAVING max(temp_lo) < 40

SELECT city, count(*) FILTER (WHERE temp_lo < 45), max(temp_lo) FROM weather GROUP BY city

SELECT depname, empno, salary, avg(salary) OVER (PARTITION BY depname) FROM empsalary

SELECT depname, empno, salary, rank() OVER (PARTITION BY depname ORDER BY salary DESC) FROM empsalary

SELECT salary, sum(salary) OVER (ORDER BY salary) FROM empsalary

SELECT sum(salary) OVER w, avg(salary) OVER w FROM empsalary WINDOW w AS (PARTITION BY depname ORDER BY salary DESC)

SELECT name, elevation FROM ONLY cities WHERE elevation > 500

SELECT c.tableoid::regclass, c.name, c.elevation FROM cities c WHERE c.elevation > 500

VALUES (1, 'one'), (2, 'two'), (3, 'three')

SELECT * FROM (VALUES (1, 'one'), (2, 'two'), (3, 'three')) AS t (num,letter)

TABLE films

TABLE ONLY films

SELECT * FROM films UNION SELECT * FROM films_recent

(SELECT a FROM t1 ORDER BY a LIMIT 10) UNION ALL (SELECT b FROM t2)

SELECT a FROM t1 INTERSECT SELECT a FROM t2 EXCEPT SELECT a FROM t3

WITH RECURSIVE t(n) AS (VALUES (1) UNION ALL SELECT n+1 FROM t WHERE n < 100) SELECT sum(n) FROM t

WITH regional_sales AS (SELECT region, SUM(amount) AS total_sales FROM orders GROUP BY region), top_regions AS (SELECT region FROM regional_sales WHERE total_sales > (SELECT SUM(total_sales)/10 FROM regional_sales)) SELECT region, product, SUM(quantity) AS product_units, SUM(amount) AS product_sales FROM orders WHERE region IN (SELECT region FROM top_regions) GROUP BY region, product

WITH RECURSIVE search_tree(id, link, data) AS (SELECT t.id, t.link, t.data FROM tree t UNION ALL SELECT t.id, t.link, t.data FROM tree t, search_tree st WHERE t.id = st.link) SEARCH DEPTH FIRST BY id SET ordercol SELECT * FROM search_tree ORDER BY ordercol

WITH RECURSIVE search_graph(id, link, data, depth) AS (SELECT g.id, g.link, g.data, 1 FROM graph g UNION ALL SELECT g.id, g.link, g.data, sg.depth + 1 FROM graph g, search_graph sg WHERE g.id = sg.link) CYCLE id SET is_cycle USING path SELECT * FROM search_graph

WITH w AS NOT MATERIALIZED (SELECT * FROM big_table) SELECT * FROM w AS w1 JOIN w AS w2 ON w1.key = w2.ref WHERE w2.key = 123

SELECT * FROM fdt WHERE c1 IN (SELECT c3 FROM t2 WHERE c2 = fdt.c1 + 10)

SELECT * FROM fdt WHERE EXISTS (SELECT c1 FROM t2 WHERE c2 > fdt.c1)

SELECT x, y, sum(z) FROM t GROUP BY ROLLUP (x, y)

SELECT brand, size, sum(sales) FROM items_sold GROUP BY GROUPING SETS ((brand), (size), ())

SELECT * FROM manufacturers m LEFT JOIN LATERAL get_product_names(m.id) pname ON true WHERE pname IS NULL

SELECT m.name FROM manufacturers m, LATERAL get_product_names(m.id) pname

SELECT * FROM ROWS FROM (json_to_recordset('[{"a":40,"b":"foo"}]') AS (a INTEGER, b TEXT), generate_series(1, 3)) AS x (p, q, s) ORDER BY p

SELECT * FROM unnest(ARRAY['a','b','c','d','e','f']) WITH ORDINALITY

SELECT * FROM sales TABLESAMPLE BERNOULLI (10) REPEATABLE (42)

SELECT f.title, f.did, d.name, f.date_prod, f.kind FROM distributors d JOIN films f USING (did)

SELECT kind, sum(len) AS total FROM films GROUP BY kind HAVING sum(len) < interval '5 hours'

SELECT * FROM distributors ORDER BY name COLLATE "C"

SELECT 2+2, CURRENT_DATE, now()::time

SELECT CASE WHEN a = 1 THEN 'one' WHEN a = 2 THEN 'two' ELSE 'other' END FROM test

SELECT a, CASE a WHEN 1 THEN 'one' ELSE 'other' END FROM test

SELECT COALESCE(description, short_description, '(none)') FROM products

SELECT NULLIF(value, '(none)'), GREATEST(1, 2, 3), LEAST(4, 5) FROM t

SELECT ARRAY[1,2,3+4], ARRAY[[1,2],[3,4]], ARRAY(SELECT oid FROM pg_proc WHERE proname LIKE 'bytea%')

SELECT ROW(1,2.5,'this is a test'), (compositecol).somefield FROM mytable

SELECT pay_by_quarter[3], schedule[1:2][1:1] FROM sal_emp WHERE name = 'Bill'

SELECT '{"a": {"b": ["foo","bar"]}}'::jsonb #> '{a,b,1}', '[1,2,3]'::jsonb @> '[1]'

SELECT to_tsvector('english', body) @@ to_tsquery('english', 'friend & !enemy') FROM messages

SELECT substring('Thomas' from 2 for 3), position('om' in 'Thomas'), trim(both 'xyz' from 'yxTomxx'), overlay('Txxxxas' placing 'hom' from 2 for 4)

SELECT extract(epoch FROM TIMESTAMP WITH TIME ZONE '2001-02-16 20:38:40.12-08'), date_part('hour', INTERVAL '4 hours 3 minutes')

SELECT 'a fat cat sat on a mat'::tsvector, 'fat & rat'::tsquery, B'1001' | B'0110', X'1F'::bit(8)

SELECT E'\\x4142'::bytea, '\x4142'::bytea, 'O''Reilly', N'national'

SELECT $$Dianne's horse$$, $SomeTag$Dianne's horse$SomeTag$, $function$ BEGIN RETURN ($1 ~ $q$[\t\r\n\v\\]$q$); END; $function$

SELECT U&'d\0061t\+000061', U&'d!0061t!+000061' UESCAPE '!', U&"d\0061t\+000061" FROM t

SELECT 'foo'
    'bar'

SELECT E'foo\nbar', e'tab\there', E'quote\'s', E'back\\slash'

SELECT 1.5e3, .5, 5., 4e-3, 0x1F, 0o17, 0b101, 1_000_000

SELECT $1::int + $2::int, $10

SELECT * FROM t WHERE a = ANY(ARRAY[1,2]) AND b <> ALL(SELECT x FROM u) AND c IS DISTINCT FROM d

SELECT a ->> 'k', a #>> '{x,y}', a ?| array['a'], a @? '$.a ? (@ > 1)' FROM j

SELECT 'abc' ~* 'B', 'abc' !~ 'd', 'abc' SIMILAR TO '%(b|d)%', 'x' LIKE 'x%' ESCAPE '$'

SELECT interval '1 day' * 2, timestamp '2024-01-01' AT TIME ZONE 'UTC', '2024-01-01'::date - 1

SELECT x::numeric(10,2), CAST(y AS double precision), z::"char", w::timestamp(3) with time zone FROM t

SELECT * FROM t WHERE (a, b) > (1, 2) AND (a, b) IN ((1,2),(3,4))

SELECT * FROM t1 NATURAL FULL JOIN t2

SELECT * FROM t1 CROSS JOIN t2 LIMIT ALL OFFSET 10

SELECT * FROM t ORDER BY a USING >, b DESC NULLS FIRST

SELECT * FROM t ORDER BY a FETCH FIRST 5 ROWS WITH TIES

SELECT DISTINCT ON (location) location, time, report FROM weather_reports ORDER BY location, time DESC

SELECT generate_subscripts('{1,2,3}'::int[], 1) AS s

SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY income) FROM households

SELECT string_agg(a, ',' ORDER BY a) FROM table1

SELECT xmlelement(name foo, xmlattributes('xyz' as bar), xmlelement(name abc), xmlcomment('test'))

SELECT json_object('{a, 1, b, "def", c, 3.5}'), JSON_OBJECT('code' VALUE 'P123', 'title': 'Jaws')

SELECT * FROM JSON_TABLE('[{"a":1},{"a":2}]'::jsonb, '$[*]' COLUMNS (a int PATH '$.a')) jt

SELECT current_user, session_user, current_role, user, current_catalog, current_schema

SELECT has_table_privilege('myschema.mytable', 'select'), pg_has_role('admin', 'MEMBER')

SELECT pg_size_pretty(pg_database_size(current_database())), pg_total_relation_size('orders')

SELECT pg_current_wal_lsn(), txid_current_if_assigned(), pg_backend_pid(), inet_server_addr()

SELECT * FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid()

SELECT relname, n_live_tup, n_dead_tup, last_autovacuum FROM pg_stat_user_tables ORDER BY n_dead_tup DESC LIMIT 10

SELECT query, calls, total_exec_time, mean_exec_time FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 20

SELECT locktype, relation::regclass, mode, granted, pid FROM pg_locks WHERE NOT granted

SELECT pid, wait_event_type, wait_event, query FROM pg_stat_activity WHERE wait_event IS NOT NULL

SELECT datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit FROM pg_stat_database

SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes WHERE tablename = 'orders'

SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'orders'::regclass

SELECT setting FROM pg_settings WHERE name = 'max_connections'

SELECT current_setting('server_version_num')::int

SELECT * FROM pg_replication_slots

SELECT * FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'orders' ORDER BY ordinal_position

SELECT table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')

SHOW ALL

SHOW server_version

SHOW TIME ZONE

SHOW TRANSACTION ISOLATION LEVEL

SHOW work_mem
