-- Hibernate / jOOQ / SQLAlchemy / Prisma / TypeORM / Drizzle generated SQL.

select u1_0.id,u1_0.email,u1_0.name from users u1_0 where u1_0.id=$1

select o1_0.id,o1_0.customer_id,o1_0.total from orders o1_0 join customers c1_0 on c1_0.id=o1_0.customer_id where c1_0.country=$1 order by o1_0.total desc offset $2 rows fetch first $3 rows only

select count(o1_0.id) from orders o1_0 where o1_0.status in ($1,$2,$3)

insert into orders (customer_id,status,total,id) values ($1,$2,$3,$4)

update orders set status=$1,version=$2 where id=$3 and version=$4

delete from order_items where order_id=$1

select nextval('orders_seq')

select nextval('hibernate_sequence')

select e1_0.id from employees e1_0 where e1_0.id=$1 for no key update

select e1_0.id,e1_0.name from employees e1_0 where e1_0.dept_id=$1 for update of e1_0 skip locked

select "public"."book"."id", "public"."book"."title" from "public"."book" where "public"."book"."author_id" = $1 order by "public"."book"."published_in" desc limit $2

with "recent" as (select "o"."id", "o"."total" from "orders" as "o" where "o"."created_at" > $1) select sum("recent"."total") from "recent"

insert into "public"."author" ("first_name", "last_name") values ($1, $2) on conflict ("id") do update set "first_name" = excluded."first_name" returning "public"."author"."id"

merge into "public"."inventory" using (select $1 as "sku", $2 as "qty") as "src" on "inventory"."sku" = "src"."sku" when matched then update set "qty" = "inventory"."qty" + "src"."qty" when not matched then insert ("sku", "qty") values ("src"."sku", "src"."qty")

SELECT users.id AS users_id, users.name AS users_name FROM users WHERE users.id = $1::INTEGER

INSERT INTO users (name, fullname) VALUES ($1::VARCHAR, $2::VARCHAR) RETURNING users.id

UPDATE users SET fullname=$1::VARCHAR WHERE users.id = $2::INTEGER

DELETE FROM addresses WHERE addresses.id = $1::INTEGER

SELECT count(*) AS count_1 FROM (SELECT users.id AS users_id FROM users WHERE users.name LIKE $1::VARCHAR) AS anon_1

SELECT addresses.id, addresses.email_address FROM addresses JOIN users ON users.id = addresses.user_id WHERE users.name = $1::VARCHAR ORDER BY addresses.id

SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace WHERE pg_catalog.pg_class.relname = $1::VARCHAR AND pg_catalog.pg_class.relkind = ANY (ARRAY[$2::VARCHAR, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::VARCHAR]) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != $7::VARCHAR

select pg_catalog.version()

select current_schema()

show transaction isolation level

show standard_conforming_strings

SELECT CAST('test plain returns' AS VARCHAR(60)) AS anon_1

SELECT "public"."User"."id", "public"."User"."email", "public"."User"."name" FROM "public"."User" WHERE ("public"."User"."email" = $1 AND 1=1) LIMIT $2 OFFSET $3

SELECT "public"."Post"."id", "public"."Post"."title" FROM "public"."Post" WHERE "public"."Post"."authorId" IN ($1,$2,$3) OFFSET $4

INSERT INTO "public"."Post" ("title","content","published","authorId","updatedAt") VALUES ($1,$2,$3,$4,$5) RETURNING "public"."Post"."id", "public"."Post"."title"

UPDATE "public"."Post" SET "published" = $1, "updatedAt" = $2 WHERE ("public"."Post"."id" = $3 AND 1=1) RETURNING "public"."Post"."id"

DELETE FROM "public"."Post" WHERE ("public"."Post"."id" = $1 AND 1=1)

SELECT COUNT(*) AS "_count._all" FROM (SELECT "public"."Post"."id" FROM "public"."Post" WHERE 1=1 OFFSET $1) AS "sub"

SELECT "User"."id" AS "User_id", "User"."firstName" AS "User_firstName" FROM "user" "User" WHERE "User"."id" IN ($1) LIMIT 1

START TRANSACTION

START TRANSACTION ISOLATION LEVEL SERIALIZABLE

INSERT INTO "user"("firstName", "lastName", "age") VALUES ($1, $2, $3) RETURNING "id"

SELECT "Photo"."id" AS "Photo_id", "Photo"."url" AS "Photo_url", "Photo__Photo_user"."id" AS "Photo__Photo_user_id" FROM "photo" "Photo" LEFT JOIN "user" "Photo__Photo_user" ON "Photo__Photo_user"."id"="Photo"."userId"

select "id", "name" from "users" where "users"."id" = $1 limit $2

select count(*) from "users" where ("users"."email" ilike $1 or "users"."name" ilike $2)

insert into "users" ("name", "email") values ($1, $2), ($3, $4) returning "id", "name", "email"

update "users" set "name" = $1 where "users"."id" = $2 returning "id"

delete from "users" where "users"."id" in ($1, $2) returning "id"

with "sq" as (select "id" from "users" where "users"."active" = $1) select * from "orders" where "orders"."user_id" in (select "id" from "sq")

SELECT t.id, t.payload FROM outbox t ORDER BY t.id LIMIT 100 FOR UPDATE SKIP LOCKED

DELETE FROM outbox WHERE id = ANY($1)

WITH next_job AS (SELECT id FROM jobs WHERE state = 'queued' ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED) UPDATE jobs SET state = 'running', started_at = now() FROM next_job WHERE jobs.id = next_job.id RETURNING jobs.*

WITH deleted AS (DELETE FROM sessions WHERE expires_at < now() RETURNING id) SELECT count(*) FROM deleted

WITH moved AS (DELETE FROM events_hot WHERE created_at < now() - interval '30 days' RETURNING *) INSERT INTO events_cold SELECT * FROM moved

WITH upd AS (UPDATE accounts SET balance = balance - 100 WHERE id = 1 RETURNING id, balance) SELECT * FROM upd

WITH ins AS (INSERT INTO audit_log(action) VALUES ('login') RETURNING id) SELECT id FROM ins

select jsonb_build_object('id', u.id, 'roles', coalesce(jsonb_agg(r.name) filter (where r.name is not null), '[]')) from users u left join user_roles ur on ur.user_id = u.id left join roles r on r.id = ur.role_id group by u.id

select id, rank() over (partition by dept order by salary desc) from employees

select * from generate_series(1, 10) as g(n) cross join lateral (select n * 2 as doubled) d

select * from unnest($1::int[], $2::text[]) as t(id, name)

insert into items (id, name) select * from unnest($1::int[], $2::text[])

select coalesce(max(version), 0) + 1 from document_versions where document_id = $1

select exists(select 1 from users where email = $1)

select u.*, count(p.*) over () as total_count from users u left join posts p on p.user_id = u.id limit 20
