-- pg_dump / pg_dumpall output fragments (plain format). Several statements per case.

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';
SET default_table_access_method = heap;

CREATE SCHEMA app;
ALTER SCHEMA app OWNER TO app_owner;

CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public;
COMMENT ON EXTENSION pgcrypto IS 'cryptographic functions';

CREATE TYPE public.mood AS ENUM (
    'sad',
    'ok',
    'happy'
);
ALTER TYPE public.mood OWNER TO postgres;

CREATE FUNCTION public.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END;
$$;
ALTER FUNCTION public.set_updated_at() OWNER TO postgres;

CREATE TABLE public.users (
    id bigint NOT NULL,
    email character varying NOT NULL,
    created_at timestamp(6) without time zone NOT NULL,
    mood public.mood
);
ALTER TABLE public.users OWNER TO postgres;

CREATE SEQUENCE public.users_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE public.users_id_seq OWNER TO postgres;
ALTER SEQUENCE public.users_id_seq OWNED BY public.users.id;

ALTER TABLE ONLY public.users ALTER COLUMN id SET DEFAULT nextval('public.users_id_seq'::regclass);

COPY public.users (id, email, created_at, mood) FROM stdin;

SELECT pg_catalog.setval('public.users_id_seq', 42, true);

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE UNIQUE INDEX index_users_on_email ON public.users USING btree (email);

CREATE TRIGGER users_updated_at BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION public.set_updated_at();

ALTER TABLE ONLY public.posts
    ADD CONSTRAINT fk_rails_5b5ddfd518 FOREIGN KEY (user_id) REFERENCES public.users(id);

REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO PUBLIC;
GRANT SELECT ON TABLE public.users TO readonly;

CREATE VIEW public.active_users AS
 SELECT users.id,
    users.email
   FROM public.users
  WHERE (users.created_at > (now() - '30 days'::interval));
ALTER VIEW public.active_users OWNER TO postgres;

CREATE MATERIALIZED VIEW public.user_counts AS
 SELECT count(*) AS n
   FROM public.users
  WITH NO DATA;
REFRESH MATERIALIZED VIEW public.user_counts;

CREATE ROLE app_owner;
ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi';
GRANT app_owner TO deploy WITH INHERIT TRUE GRANTED BY postgres;

CREATE DATABASE appdb WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'en_US.UTF-8';
ALTER DATABASE appdb OWNER TO app_owner;

SELECT pg_catalog.lo_create('16385');
ALTER LARGE OBJECT 16385 OWNER TO postgres;

SELECT pg_catalog.lo_open('16385', 131072);
SELECT pg_catalog.lowrite(0, '\x48656c6c6f');
SELECT pg_catalog.lo_close(0);

CREATE POLICY tenant_policy ON public.orders USING ((tenant_id = (current_setting('app.tenant'::text))::integer));
ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY;

CREATE PUBLICATION app_pub FOR ALL TABLES WITH (publish = 'insert, update, delete, truncate');
ALTER PUBLICATION app_pub OWNER TO postgres;

CREATE INDEX idx_orders_created ON public.orders USING btree (created_at DESC) WHERE (status = 'open'::text);
ALTER INDEX public.idx_orders_created ATTACH PARTITION public.idx_orders_y2024_created;

SELECT pg_catalog.binary_upgrade_set_next_pg_type_oid('16400'::pg_catalog.oid);

COMMENT ON TABLE public.users IS 'Application users';
COMMENT ON COLUMN public.users.email IS 'Login e-mail';

CREATE AGGREGATE public.array_accum(anycompatible) (
    SFUNC = array_append,
    STYPE = anycompatiblearray,
    INITCOND = '{}'
);

CREATE TEXT SEARCH DICTIONARY public.english_stem_nostop (
    TEMPLATE = pg_catalog.snowball,
    language = 'english' );

SET SESSION AUTHORIZATION app_owner;
CREATE TABLE app.settings (k text PRIMARY KEY, v text);
RESET SESSION AUTHORIZATION;
