-- Lexical corner cases: every quoting form, comments in odd places, statements hidden in
-- literals and comments, spacing. PostgreSQL parses each of these.

SELECT 'it''s'; SELECT 'a;b'

SELECT 'one;two' AS "semi;colon"

SELECT "weird ""name""" FROM "Tab;le"

SELECT /* ; DROP TABLE x; */ 1

SELECT 1 -- ; DROP TABLE x
;

SELECT /* outer /* inner ; */ still comment ; */ 2

/* leading comment */ SELECT 3

-- leading line comment
SELECT 4

SELECT $$ ; DROP TABLE x ; $$

SELECT $a$ $$ ; $b$ ; $a$

SELECT $_$x$_$, $q1$y$q1$

SELECT E'\'; DROP TABLE x; --'

SELECT E'\\'; SELECT 2

SELECT E'a\\\'b', E'\x41\101\u0041'

SELECT U&'\0041\0042' UESCAPE '\', U&'!0041' UESCAPE '!'

SELECT U&"\0061" FROM t

SELECT B'101', X'ff', b'0', x'0A'

SELECT N'nat''l'

SELECT 'a'
'b'

SELECT E'x'
'\''; SELECT 9

SELECT 1+-2, 3--4
, 5

SELECT 2*/**/3

SELECT a$b, c$$ FROM t$1

SELECT $1, $2 FROM t WHERE x = $3

SELECT 'ünïcödé', "naïve" FROM t

SELECT 'emoji 😀' AS "列"

SELECT    1	,
	2

select * from t where a = 'x'
;select 2;;;select 3

SELECT (((((1)))))

SELECT (ARRAY[1,2])[1:1]

SELECT '{"a":";"}'::jsonb

SELECT 1 AS "DROP TABLE x; --"

select/*c*/1

select-1

SELECT 'x'::text||'y'

SELECT 1 /* a /* b /* c */ */ */ + 2

SELECT $tag$ $TAG$ ; $tag$

SELECT $x$ a $x $x$

SELECT 1 ;  /* trailing comment */

SELECT 1 ; -- trailing line comment

SELECT E'\n\t\\', e'\''

SELECT 'a\'

SELECT 'a\\' FROM t

SELECT $q$it's$q$, 'it''s', E'it\'s'

INSERT INTO t VALUES ('; DELETE FROM t; --'), ($$;$$), (E'\';')

UPDATE t SET note = '/* not a comment */ -- nor this' WHERE id = 1

SELECT * FROM "SELECT" WHERE "WHERE" = 'FROM'

SELECT "delete" FROM t

SELECT t."update", t."insert" FROM t

SELECT 1 AS update

SELECT x.delete FROM t x

EXPLAIN (U&"an\0061lyze") DELETE FROM t

EXPLAIN ("analyze", costs off) UPDATE t SET a = 1 WHERE b

SET U&"rol\0065" = admin

SET "ROLE" TO admin

SELECT U&"pg\005fread\005ffile"('x')

SELECT "set_config"('role', 'x', false)

SELECT pg_catalog . set_config ( 'role' , 'x' , false )

WITH a AS (WITH b AS (SELECT 1) DELETE FROM t WHERE x RETURNING 1) SELECT * FROM a

SELECT 1; DELETE FROM t; SELECT 2

SELECT 1;DELETE FROM t;

/* a */ SELECT /* b */ 1 /* c */ ; /* d */ DELETE /* e */ FROM t /* f */

SELECT $$;$$ ; DELETE FROM t ; SELECT '$$'

SELECT 'x' FROM t WHERE a = E'\\' ; DELETE FROM t
