-- Rails (ActiveRecord) migrations and schema.rb loading, PostgreSQL adapter output.

CREATE TABLE "schema_migrations" ("version" character varying NOT NULL PRIMARY KEY)

CREATE TABLE "ar_internal_metadata" ("key" character varying NOT NULL PRIMARY KEY, "value" character varying, "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)

SELECT "schema_migrations"."version" FROM "schema_migrations" ORDER BY "schema_migrations"."version" ASC

INSERT INTO "schema_migrations" ("version") VALUES ('20240115093012') RETURNING "version"

SELECT pg_try_advisory_lock(5582017845323519250)

SELECT pg_advisory_unlock(5582017845323519250)

CREATE TABLE "users" ("id" bigserial primary key, "email" character varying DEFAULT '' NOT NULL, "encrypted_password" character varying DEFAULT '' NOT NULL, "reset_password_token" character varying, "reset_password_sent_at" timestamp(6), "remember_created_at" timestamp(6), "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)

CREATE UNIQUE INDEX "index_users_on_email" ON "users" ("email")

CREATE UNIQUE INDEX "index_users_on_reset_password_token" ON "users" ("reset_password_token")

CREATE TABLE "posts" ("id" bigserial primary key, "title" character varying, "body" text, "user_id" bigint NOT NULL, "published" boolean DEFAULT FALSE, "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL, CONSTRAINT "fk_rails_5b5ddfd518" FOREIGN KEY ("user_id") REFERENCES "users" ("id"))

CREATE INDEX "index_posts_on_user_id" ON "posts" ("user_id")

ALTER TABLE "posts" ADD "slug" character varying

ALTER TABLE "posts" ADD CONSTRAINT "fk_rails_posts_authors" FOREIGN KEY ("author_id") REFERENCES "authors" ("id") NOT VALID

ALTER TABLE "posts" VALIDATE CONSTRAINT "fk_rails_posts_authors"

ALTER TABLE "posts" RENAME COLUMN "body" TO "content"

ALTER TABLE "posts" ALTER COLUMN "title" TYPE character varying(500)

ALTER TABLE "posts" ALTER COLUMN "title" SET NOT NULL

ALTER TABLE "posts" ALTER COLUMN "published" SET DEFAULT TRUE

ALTER TABLE "posts" ALTER COLUMN "published" DROP DEFAULT

ALTER TABLE "posts" DROP COLUMN "legacy_id"

DROP TABLE "old_posts"

DROP TABLE IF EXISTS "tmp_imports" CASCADE

CREATE INDEX CONCURRENTLY "index_posts_on_created_at" ON "posts" ("created_at")

DROP INDEX CONCURRENTLY IF EXISTS "index_posts_on_title"

ALTER INDEX "index_posts_on_slug" RENAME TO "index_posts_on_permalink"

CREATE EXTENSION IF NOT EXISTS "pgcrypto"

CREATE EXTENSION IF NOT EXISTS "plpgsql"

CREATE TABLE "comments" ("id" uuid DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY, "post_id" bigint, "body" text, "created_at" timestamp(6) NOT NULL, "updated_at" timestamp(6) NOT NULL)

CREATE TYPE "status" AS ENUM ('draft', 'published', 'archived')

ALTER TYPE "status" ADD VALUE 'deleted'

ALTER TABLE "posts" ADD "status" "status" DEFAULT 'draft'

CREATE TABLE "active_storage_blobs" ("id" bigserial primary key, "key" character varying NOT NULL, "filename" character varying NOT NULL, "content_type" character varying, "metadata" text, "service_name" character varying NOT NULL, "byte_size" bigint NOT NULL, "checksum" character varying, "created_at" timestamp(6) NOT NULL)

CREATE INDEX "index_taggings_on_taggable" ON "taggings" ("taggable_type", "taggable_id")

CREATE INDEX "index_events_on_payload" ON "events" USING gin ("payload")

CREATE INDEX "index_users_on_lower_email" ON "users" (lower(email))

CREATE INDEX "index_orders_pending" ON "orders" ("created_at") WHERE status = 'pending'

COMMENT ON TABLE "posts" IS 'Blog posts'

COMMENT ON COLUMN "posts"."slug" IS 'URL fragment'

ALTER TABLE "posts" ADD CONSTRAINT "check_title_length" CHECK (char_length(title) <= 500)

ALTER TABLE ONLY "posts" DROP CONSTRAINT "check_title_length"

CREATE SEQUENCE "invoice_numbers" START WITH 1000 INCREMENT BY 1

ALTER SEQUENCE "invoice_numbers" RESTART WITH 5000

DROP SEQUENCE IF EXISTS "invoice_numbers"

SELECT a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.atttypid, a.atttypmod, c.collname, col_description(a.attrelid, a.attnum) AS comment, attidentity AS identity, attgenerated as attgenerated FROM pg_attribute a LEFT JOIN pg_attrdef d ON a.attrelid = d.adrelid AND a.attnum = d.adnum LEFT JOIN pg_type t ON a.atttypid = t.oid LEFT JOIN pg_collation c ON a.attcollation = c.oid AND a.attcollation <> t.typcollation WHERE a.attrelid = '"users"'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum

SELECT c.relname FROM pg_class c LEFT JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY (current_schemas(false)) AND c.relname = 'users' AND c.relkind IN ('r','p')

SELECT t.oid, t.typname FROM pg_type as t WHERE t.typname IN ('int2', 'int4', 'int8', 'oid', 'float4', 'float8', 'numeric', 'bool', 'timestamp', 'timestamptz')

SHOW search_path

SET client_min_messages TO 'warning'

SET standard_conforming_strings = on

SET intervalstyle = iso_8601

SET SESSION timezone TO 'UTC'

SELECT pg_get_indexdef(d.indexrelid) FROM pg_index d WHERE d.indrelid = '"posts"'::regclass

BEGIN

COMMIT

ROLLBACK

SAVEPOINT active_record_1

RELEASE SAVEPOINT active_record_1

ROLLBACK TO SAVEPOINT active_record_1

CREATE TABLE "friendly_id_slugs" ("id" bigserial primary key, "slug" character varying NOT NULL, "sluggable_id" integer NOT NULL, "sluggable_type" character varying(50), "scope" character varying, "created_at" timestamp(6))

ALTER TABLE "users" ADD "settings" jsonb DEFAULT '{}' NOT NULL

ALTER TABLE "accounts" ADD "balance_cents" integer DEFAULT 0 NOT NULL, ADD "balance_currency" character varying DEFAULT 'USD' NOT NULL

CREATE TABLE "versions" ("id" bigserial primary key, "item_type" character varying NOT NULL, "item_id" bigint NOT NULL, "event" character varying NOT NULL, "whodunnit" character varying, "object" text, "created_at" timestamp(6))

TRUNCATE TABLE "posts", "comments" RESTART IDENTITY CASCADE

DELETE FROM "ar_internal_metadata" WHERE "ar_internal_metadata"."key" = 'environment'

UPDATE "ar_internal_metadata" SET "value" = 'production', "updated_at" = '2024-01-15 09:30:12.123456' WHERE "ar_internal_metadata"."key" = 'environment'
