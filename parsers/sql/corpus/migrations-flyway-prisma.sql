-- Flyway / Liquibase / Prisma / Knex / Sequelize style migrations.

CREATE TABLE IF NOT EXISTS flyway_schema_history (installed_rank INT NOT NULL, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(), execution_time INT NOT NULL, success BOOLEAN NOT NULL, CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank))

CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success)

LOCK TABLE flyway_schema_history IN ACCESS EXCLUSIVE MODE

SELECT installed_rank, version, description, type, script, checksum, installed_on, installed_by, execution_time, success FROM flyway_schema_history WHERE installed_rank > $1 ORDER BY installed_rank

INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (1, '1', 'init', 'SQL', 'V1__init.sql', -1292039, 'deploy', 42, true)

CREATE TABLE customer (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, created_at TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP)

CREATE TABLE invoice (id BIGSERIAL PRIMARY KEY, customer_id BIGINT NOT NULL REFERENCES customer(id) ON DELETE CASCADE ON UPDATE CASCADE, amount NUMERIC(12,2) NOT NULL CHECK (amount >= 0), issued_on DATE NOT NULL DEFAULT CURRENT_DATE)

CREATE TABLE measurement (city_id int NOT NULL, logdate date NOT NULL, peaktemp int, unitsales int) PARTITION BY RANGE (logdate)

CREATE TABLE measurement_y2024m01 PARTITION OF measurement FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')

CREATE TABLE measurement_default PARTITION OF measurement DEFAULT

ALTER TABLE measurement DETACH PARTITION measurement_y2024m01

ALTER TABLE measurement ATTACH PARTITION measurement_y2024m01 FOR VALUES FROM ('2024-01-01') TO ('2024-02-01')

-- Prisma migrate
CREATE TABLE "User" ("id" SERIAL NOT NULL, "email" TEXT NOT NULL, "name" TEXT, CONSTRAINT "User_pkey" PRIMARY KEY ("id"))

CREATE TABLE "Post" ("id" SERIAL NOT NULL, "title" TEXT NOT NULL, "content" TEXT, "published" BOOLEAN NOT NULL DEFAULT false, "authorId" INTEGER, "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP, "updatedAt" TIMESTAMP(3) NOT NULL, CONSTRAINT "Post_pkey" PRIMARY KEY ("id"))

CREATE UNIQUE INDEX "User_email_key" ON "User"("email")

ALTER TABLE "Post" ADD CONSTRAINT "Post_authorId_fkey" FOREIGN KEY ("authorId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE

CREATE TYPE "Role" AS ENUM ('USER', 'ADMIN')

ALTER TABLE "User" ADD COLUMN "role" "Role" NOT NULL DEFAULT 'USER'

ALTER TABLE "Post" DROP CONSTRAINT "Post_authorId_fkey"

DROP TABLE "Profile"

ALTER TYPE "Role" RENAME VALUE 'USER' TO 'MEMBER'

CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, "finished_at" TIMESTAMPTZ, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)

SELECT "id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at", "applied_steps_count" FROM "_prisma_migrations" ORDER BY "started_at" ASC

-- Knex
create table "knex_migrations" ("id" serial primary key, "name" varchar(255), "batch" integer, "migration_time" timestamptz)

create table "knex_migrations_lock" ("index" serial primary key, "is_locked" integer)

select * from "knex_migrations_lock" where "is_locked" = $1 for update

update "knex_migrations_lock" set "is_locked" = $1 where "is_locked" = $2

insert into "knex_migrations" ("batch", "migration_time", "name") values ($1, $2, $3)

alter table "accounts" add column "last_seen" timestamptz

alter table "accounts" alter column "plan" type varchar(32) using ("plan"::varchar(32))

create index "accounts_plan_index" on "accounts" ("plan")

-- Sequelize
CREATE TABLE IF NOT EXISTS "SequelizeMeta" ("name" VARCHAR(255) NOT NULL UNIQUE , PRIMARY KEY ("name"))

SELECT i.relname AS name, ix.indisprimary AS primary, ix.indisunique AS unique, ix.indkey AS indkey, array_agg(a.attnum) as column_indexes, array_agg(a.attname) AS column_names, pg_get_indexdef(ix.indexrelid) AS definition FROM pg_class t, pg_class i, pg_index ix, pg_attribute a WHERE t.oid = ix.indrelid AND i.oid = ix.indexrelid AND a.attrelid = t.oid AND t.relkind = 'r' and t.relname = 'Users' GROUP BY i.relname, ix.indexrelid, ix.indisprimary, ix.indisunique, ix.indkey ORDER BY i.relname

INSERT INTO "SequelizeMeta" ("name") VALUES ($1) RETURNING "name"

CREATE TABLE IF NOT EXISTS "Users" ("id" SERIAL , "firstName" VARCHAR(255), "lastName" VARCHAR(255), "email" VARCHAR(255), "createdAt" TIMESTAMP WITH TIME ZONE NOT NULL, "updatedAt" TIMESTAMP WITH TIME ZONE NOT NULL, PRIMARY KEY ("id"))

-- Liquibase
CREATE TABLE public.databasechangeloglock (ID INTEGER NOT NULL, LOCKED BOOLEAN NOT NULL, LOCKGRANTED TIMESTAMP WITHOUT TIME ZONE, LOCKEDBY VARCHAR(255), CONSTRAINT databasechangeloglock_pkey PRIMARY KEY (ID))

UPDATE public.databasechangeloglock SET LOCKED = TRUE, LOCKEDBY = 'build-agent (10.0.0.5)', LOCKGRANTED = NOW() WHERE ID = 1 AND LOCKED = FALSE

SELECT MD5SUM FROM public.databasechangelog WHERE MD5SUM IS NOT NULL LIMIT 1

-- Goose / golang-migrate / sqitch
CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)

SELECT pg_advisory_lock($1)

TRUNCATE schema_migrations

INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)

CREATE SCHEMA IF NOT EXISTS sqitch

CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION app_owner

ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (quantity * unit_price_cents) STORED

ALTER TABLE orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY

ALTER TABLE orders SET (autovacuum_vacuum_scale_factor = 0.01)

ALTER TABLE orders SET LOGGED

ALTER TABLE orders ENABLE ROW LEVEL SECURITY

ALTER TABLE orders FORCE ROW LEVEL SECURITY

CREATE POLICY tenant_isolation ON orders USING (tenant_id = current_setting('app.tenant_id')::bigint)

CREATE POLICY orders_insert ON orders FOR INSERT TO app_user WITH CHECK (tenant_id = current_setting('app.tenant_id')::bigint)

ALTER POLICY tenant_isolation ON orders TO app_user, app_admin

DROP POLICY IF EXISTS orders_insert ON orders

ALTER TABLE orders OWNER TO app_owner

ALTER TABLE orders SET SCHEMA billing

ALTER VIEW active_orders OWNER TO reporting

ALTER FUNCTION refresh_totals() OWNER TO app_owner

ALTER SCHEMA billing OWNER TO app_owner

ALTER DATABASE appdb OWNER TO app_owner

ALTER SEQUENCE orders_id_seq OWNED BY orders.id

ALTER SEQUENCE orders_id_seq OWNER TO app_owner
