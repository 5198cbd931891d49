-- ActiveRecord query log style (prepared statements show $n parameters).

SELECT "users".* FROM "users" WHERE "users"."id" = $1 LIMIT $2

SELECT "users".* FROM "users" WHERE "users"."email" = $1 LIMIT $2

SELECT 1 AS one FROM "users" WHERE "users"."email" = $1 LIMIT $2

SELECT "posts".* FROM "posts" WHERE "posts"."user_id" = $1 ORDER BY "posts"."created_at" DESC LIMIT $2 OFFSET $3

SELECT COUNT(*) FROM "posts" WHERE "posts"."published" = $1

SELECT "posts"."id", "posts"."title" FROM "posts" INNER JOIN "users" ON "users"."id" = "posts"."user_id" WHERE "users"."admin" = $1

SELECT "comments".* FROM "comments" WHERE "comments"."post_id" IN ($1, $2, $3, $4, $5)

SELECT DISTINCT "tags"."name" FROM "tags" INNER JOIN "taggings" ON "tags"."id" = "taggings"."tag_id" WHERE "taggings"."taggable_type" = $1

SELECT SUM("orders"."total_cents") FROM "orders" WHERE "orders"."status" = $1 AND "orders"."created_at" BETWEEN $2 AND $3

SELECT "orders"."status", COUNT(*) AS count_all FROM "orders" GROUP BY "orders"."status"

SELECT "users".* FROM "users" WHERE ("users"."name" ILIKE $1 OR "users"."email" ILIKE $2)

SELECT "users".* FROM "users" WHERE "users"."deleted_at" IS NULL AND "users"."id" NOT IN (SELECT "bans"."user_id" FROM "bans")

SELECT "accounts".* FROM "accounts" WHERE "accounts"."id" = $1 LIMIT $2 FOR UPDATE

SELECT "jobs".* FROM "jobs" WHERE "jobs"."run_at" <= $1 AND "jobs"."locked_at" IS NULL ORDER BY "jobs"."priority" ASC LIMIT $2 FOR UPDATE SKIP LOCKED

INSERT INTO "users" ("email", "encrypted_password", "created_at", "updated_at") VALUES ($1, $2, $3, $4) RETURNING "id"

INSERT INTO "posts" ("title", "body", "user_id", "created_at", "updated_at") VALUES ($1, $2, $3, $4, $5) RETURNING "id"

INSERT INTO "taggings" ("tag_id","taggable_type","taggable_id","created_at") VALUES (1, 'Post', 10, '2024-01-01 00:00:00'), (2, 'Post', 10, '2024-01-01 00:00:00') ON CONFLICT ("tag_id","taggable_type","taggable_id") DO NOTHING RETURNING "id"

INSERT INTO "counters" ("key","value") VALUES ('visits', 1) ON CONFLICT ("key") DO UPDATE SET "value" = "counters"."value" + excluded."value" RETURNING "id"

UPDATE "users" SET "sign_in_count" = $1, "current_sign_in_at" = $2, "updated_at" = $3 WHERE "users"."id" = $4

UPDATE "posts" SET "published" = TRUE WHERE "posts"."user_id" = $1

UPDATE "posts" SET "comments_count" = COALESCE("comments_count", 0) + 1 WHERE "posts"."id" = $1

UPDATE "users" SET "reset_password_token" = NULL

DELETE FROM "sessions" WHERE "sessions"."updated_at" < $1

DELETE FROM "comments" WHERE "comments"."id" = $1

DELETE FROM "cache_entries"

SELECT "users".* FROM "users" WHERE "users"."id" IN (SELECT "memberships"."user_id" FROM "memberships" WHERE "memberships"."group_id" = $1)

SELECT "users".* FROM "users" WHERE EXISTS (SELECT 1 FROM "orders" WHERE "orders"."user_id" = "users"."id")

SELECT "posts".* FROM "posts" WHERE "posts"."tags" @> ARRAY[$1]::varchar[]

SELECT "events".* FROM "events" WHERE ("events"."payload" ->> 'kind') = $1

SELECT "products".* FROM "products" WHERE "products"."price" > $1 ORDER BY "products"."price" DESC NULLS LAST

SELECT MAX("posts"."updated_at") FROM "posts"

SELECT "users"."id" FROM "users" WHERE "users"."created_at" >= $1 ORDER BY "users"."id" ASC LIMIT $2

SELECT "active_storage_attachments".* FROM "active_storage_attachments" WHERE "active_storage_attachments"."record_id" = $1 AND "active_storage_attachments"."record_type" = $2 AND "active_storage_attachments"."name" = $3 LIMIT $4

SELECT "solid_queue_jobs".* FROM "solid_queue_jobs" WHERE "solid_queue_jobs"."finished_at" IS NULL AND "solid_queue_jobs"."scheduled_at" <= NOW()

UPDATE "solid_queue_processes" SET "last_heartbeat_at" = $1 WHERE "solid_queue_processes"."id" = $2

SELECT "good_jobs".* FROM "good_jobs" WHERE "good_jobs"."id" IN (WITH "rows" AS MATERIALIZED (SELECT "good_jobs"."id", "good_jobs"."active_job_id" FROM "good_jobs" WHERE "good_jobs"."finished_at" IS NULL ORDER BY priority DESC NULLS LAST LIMIT $1) SELECT "rows"."id" FROM "rows" WHERE pg_try_advisory_lock(('x' || substr(md5('good_jobs' || '-' || "rows"."active_job_id"::text), 1, 16))::bit(64)::bigint) LIMIT $2)

SELECT "users".* FROM "users" WHERE "users"."id" = 1 LIMIT 1

SELECT "posts".* FROM "posts" WHERE (title LIKE '%rails%')

SELECT "posts".* FROM "posts" WHERE "posts"."id" = ANY($1::bigint[])

SELECT "versions".* FROM "versions" WHERE "versions"."item_id" = $1 AND "versions"."item_type" = $2 ORDER BY "versions"."created_at" ASC, "versions"."id" ASC

SELECT COUNT(DISTINCT "users"."id") FROM "users" LEFT OUTER JOIN "posts" ON "posts"."user_id" = "users"."id"

SELECT "users".* FROM "users" WHERE "users"."tenant_id" = $1 AND ("users"."role" = $2 OR "users"."role" = $3)

SELECT "schema_migrations"."version" FROM "schema_migrations" ORDER BY "schema_migrations"."version" DESC LIMIT 1

UPDATE "users" SET "failed_attempts" = COALESCE("failed_attempts", 0) + 1 WHERE "users"."id" = $1

DELETE FROM "taggings" WHERE "taggings"."taggable_id" = $1 AND "taggings"."taggable_type" = $2 AND "taggings"."tag_id" IN ($3, $4)

SELECT "users".* FROM "users" ORDER BY RANDOM() LIMIT 5

SELECT "orders".* FROM "orders" WHERE "orders"."created_at" > NOW() - INTERVAL '7 days'

SELECT date_trunc('day', "orders"."created_at") AS day, SUM("orders"."total") FROM "orders" GROUP BY 1 ORDER BY 1

SELECT "a".* FROM "accounts" "a" WHERE "a"."id" = $1 FOR NO KEY UPDATE

SELECT "a".* FROM "accounts" "a" WHERE "a"."id" = $1 FOR SHARE

SELECT "a".* FROM "accounts" "a" WHERE "a"."id" = $1 FOR KEY SHARE NOWAIT
