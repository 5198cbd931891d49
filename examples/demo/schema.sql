-- Gatehouse demo database: schema + seed (loaded once by `npm start` into database `demo`,
-- owned by role gatehouse_demo). Every value is FAKE but looks real, so masking and policy are
-- worth watching: card numbers are Luhn-valid test numbers (4111 1111 1111 1111 family), hashes
-- look like bcrypt, tokens look like GitHub tokens, emails use the reserved example.* domains.
-- Rows come from generate_series so this file stays small and deterministic.

CREATE TABLE customers (
  id            serial PRIMARY KEY,
  name          text        NOT NULL,
  email         text        NOT NULL UNIQUE,
  card_number   text        NOT NULL,
  password_hash text        NOT NULL,
  api_token     text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
  id          serial PRIMARY KEY,
  customer_id integer       NOT NULL REFERENCES customers (id),
  amount      numeric(10,2) NOT NULL CHECK (amount >= 0),
  status      text          NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'refunded')),
  created_at  timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_id_idx ON orders (customer_id);

-- Luhn check digit appended to a digit string (session-local helper, gone after loading).
CREATE FUNCTION pg_temp.luhn_complete(payload text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT payload || ((10 - sum(CASE WHEN (length(payload) - i) % 2 = 0
                                    THEN CASE WHEN d * 2 > 9 THEN d * 2 - 9 ELSE d * 2 END
                                    ELSE d END) % 10) % 10)::text
  FROM (SELECT i, substr(payload, i, 1)::int AS d FROM generate_series(1, length(payload)) AS i) AS digits
$$;

INSERT INTO customers (name, email, card_number, password_hash, api_token, created_at)
SELECT
  first || ' ' || last,
  lower(first) || '.' || lower(last) || n || '@example.' || (ARRAY['com', 'org', 'net'])[1 + n % 3],
  -- Customer 1 holds the classic 4111 1111 1111 1111; the rest are other Luhn-valid test numbers.
  CASE WHEN n = 1 THEN '4111111111111111'
       ELSE pg_temp.luhn_complete((ARRAY['411111', '555555', '400000', '520082', '601111'])[1 + n % 5]
                                  || lpad(((n * 7919) % 1000000000)::text, 9, '0')) END,
  '$2b$12$' || substr(translate(replace(encode(sha256(('pw-' || n)::bytea) || sha256(('salt-' || n)::bytea), 'base64'), E'\n', ''), '+=', '.'), 1, 53),
  'ghp_' || substr(translate(replace(encode(sha256(('tok-' || n)::bytea) || sha256(('ghp-' || n)::bytea), 'base64'), E'\n', ''), '+/=', ''), 1, 36),
  timestamptz '2024-01-01 09:00:00+00' + n * interval '7 hours 13 minutes'
FROM (
  SELECT n,
         (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Dennis', 'Margaret', 'Linus', 'Radia',
                'Frances', 'John', 'Donald', 'Leslie', 'Shafi', 'Whitfield', 'Martin', 'Sophie', 'Tim', 'Hedy'])[1 + n % 20] AS first,
         (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Thompson', 'Ritchie', 'Hamilton', 'Torvalds',
                'Perlman', 'Allen', 'McCarthy', 'Knuth', 'Lamport', 'Goldwasser', 'Diffie', 'Hellman', 'Wilson',
                'Berners-Lee', 'Lamarr', 'Kay', 'Backus', 'Wirth'])[1 + (n * 7) % 23] AS last
  FROM generate_series(1, 300) AS n
) AS people;

INSERT INTO orders (customer_id, amount, status, created_at)
SELECT
  1 + (n * 37) % 300,
  round((5 + (n * 7.31) % 495)::numeric, 2),
  (ARRAY['pending', 'paid', 'shipped', 'refunded'])[1 + (n * 13) % 4],
  timestamptz '2024-02-01 12:00:00+00' + n * interval '3 hours 41 minutes'
FROM generate_series(1, 1200) AS n;
