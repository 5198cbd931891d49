-- Function calls in every position and spelling (issue 12): the function-level classification
-- must see each call PostgreSQL's parser sees (parsers/sql/function-differential.test.ts).

SELECT setval('orders_id_seq', 42, true);

SELECT pg_catalog.setval('orders_id_seq', 42);

SELECT "pg_catalog"."nextval"('orders_id_seq');

SELECT nextval /* why not */ ('orders_id_seq');

SELECT * FROM setval('orders_id_seq', 10);

SELECT * FROM generate_series(1, 10) AS g(n);

VALUES (nextval('orders_id_seq')), (currval('orders_id_seq'));

SELECT lower(name), upper(email), length(note) FROM customers WHERE lower(email) LIKE lower($1);

SELECT count(*) FILTER (WHERE total > 10), sum(total) OVER (PARTITION BY customer_id ORDER BY created_at) FROM orders;

SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid();

SELECT pg_cancel_backend(12345);

SELECT pg_reload_conf(), pg_rotate_logfile();

SELECT lo_create(0), lo_unlink(16400);

SELECT pg_advisory_lock(1), pg_try_advisory_xact_lock(2);

SELECT query_to_xml('select 1 as one', true, false, '');

SELECT query_to_xml($$select setval('orders_id_seq', 1)$$, true, false, '');

SELECT ts_stat('select body_tsv from documents');

SELECT ts_rewrite('a & b'::tsquery, 'select target, substitute from aliases');

SELECT set_config('application_name', 'ci-job', false);

SELECT current_setting('search_path'), now(), clock_timestamp(), random();

SELECT public.my_function(1, 'two');

SELECT "MyFunction"(1);

SELECT analytics.refresh_totals();

SELECT coalesce(a, b), nullif(c, 0), greatest(1, 2), extract(year FROM created_at) FROM t;

SELECT CAST(total AS numeric(10, 2)), total::varchar(20) FROM orders;

SELECT substring(name FROM 1 FOR 3), trim(both ' ' FROM name), position('a' IN name) FROM customers;

SELECT json_build_object('id', id, 'tags', array_agg(tag ORDER BY tag)) FROM tags GROUP BY id;

SELECT * FROM customers c LEFT JOIN LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id LIMIT 1) x ON true;

WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n) FROM t;

INSERT INTO audit_log (at, who) VALUES (now(), current_user);

UPDATE orders SET total = round(total * 1.1, 2), updated_at = now() WHERE id = $1;

INSERT INTO customers (id, email) VALUES (nextval('customers_id_seq'), lower($1)) ON CONFLICT (email) DO UPDATE SET email = excluded.email;

COPY (SELECT id, nextval('orders_id_seq') FROM orders) TO STDOUT WITH (FORMAT csv);

SELECT pg_sleep(0.1);

SELECT pg_read_file('postgresql.conf', 0, 100);

SELECT dblink_exec('dbname=other', 'delete from t');

SELECT x.id FROM unnest(ARRAY[1, 2, 3]) WITH ORDINALITY AS x(id, n);

SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY'), date_trunc('day', now());

SELECT id FROM orders WHERE id = ANY($1::int[]) AND EXISTS (SELECT 1 FROM customers WHERE id = orders.customer_id);

-- user functions named like unreserved keywords, where an expression starts: calls
SELECT key(1), path('x'), next(2) FROM t WHERE filter(a) AND over(b) ORDER BY first(a)

SELECT * FROM t WHERE a = columns(1) OR nested(2) > 0 AND include(3) IS NULL

SELECT * FROM partition(1) JOIN rows(2) ON range(3) = groups(4)

-- the same words as grammar
SELECT count(*) FILTER (WHERE a > 0) OVER (PARTITION BY b ORDER BY c ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t LEFT JOIN (SELECT 1 AS a) x ON true CROSS JOIN (SELECT 2) y

SELECT a FROM t ORDER BY (a) OFFSET 1 ROWS FETCH FIRST (2) ROWS ONLY
