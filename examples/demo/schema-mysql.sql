-- Gatehouse demo database for MariaDB/MySQL (demo-mysql): the same tables, columns and kind of
-- FAKE-but-real-looking values as examples/demo/schema.sql (demo-pg), so the same masking rules
-- apply: Luhn-valid test card numbers, bcrypt-looking hashes, GitHub-looking tokens, example.*
-- e-mail addresses. Rows come from MariaDB's sequence engine (seq_1_to_N), deterministic.

CREATE TABLE customers (
  id            INT AUTO_INCREMENT PRIMARY KEY,
  name          VARCHAR(100) NOT NULL,
  email         VARCHAR(200) NOT NULL UNIQUE,
  card_number   VARCHAR(19)  NOT NULL,
  password_hash VARCHAR(60)  NOT NULL,
  api_token     VARCHAR(40)  NOT NULL,
  created_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE orders (
  id          INT AUTO_INCREMENT PRIMARY KEY,
  customer_id INT           NOT NULL,
  amount      DECIMAL(10,2) NOT NULL CHECK (amount >= 0),
  status      VARCHAR(10)   NOT NULL CHECK (status IN ('pending', 'paid', 'shipped', 'refunded')),
  created_at  DATETIME      NOT NULL DEFAULT CURRENT_TIMESTAMP,
  KEY orders_customer_id_idx (customer_id),
  FOREIGN KEY (customer_id) REFERENCES customers (id)
);

INSERT INTO customers (name, email, card_number, password_hash, api_token, created_at)
SELECT
  CONCAT(first, ' ', last),
  CONCAT(LOWER(first), '.', LOWER(REPLACE(last, '-', '')), n, '@example.', ELT(1 + n % 3, 'com', 'org', 'net')),
  -- Customer 1 holds the classic 4111 1111 1111 1111; the rest cycle through other Luhn-valid test numbers.
  IF(n = 1, '4111111111111111', ELT(1 + n % 5, '4012888888881881', '5555555555554444', '4000056655665556', '5200828282828210', '6011111111111117')),
  CONCAT('$2b$12$', SUBSTR(REPLACE(REPLACE(REPLACE(TO_BASE64(UNHEX(CONCAT(SHA2(CONCAT('pw-', n), 256), SHA2(CONCAT('salt-', n), 256)))), '\n', ''), '+', '.'), '=', '.'), 1, 53)),
  CONCAT('ghp_', SUBSTR(REPLACE(REPLACE(REPLACE(TO_BASE64(UNHEX(CONCAT(SHA2(CONCAT('tok-', n), 256), SHA2(CONCAT('ghp-', n), 256)))), '\n', ''), '+', ''), '/', ''), 1, 36)),
  TIMESTAMP '2024-01-01 09:00:00' + INTERVAL n * 433 MINUTE
FROM (
  SELECT seq AS n,
         ELT(1 + seq % 20, 'Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Ken', 'Dennis', 'Margaret', 'Linus', 'Radia',
             'Frances', 'John', 'Donald', 'Leslie', 'Shafi', 'Whitfield', 'Martin', 'Sophie', 'Tim', 'Hedy') AS first,
         ELT(1 + (seq * 7) % 23, 'Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Thompson', 'Ritchie', 'Hamilton', 'Torvalds',
             'Perlman', 'Allen', 'McCarthy', 'Knuth', 'Lamport', 'Goldwasser', 'Diffie', 'Hellman', 'Wilson',
             'Berners-Lee', 'Lamarr', 'Kay', 'Backus', 'Wirth') AS last
  FROM seq_1_to_300
) AS people
ORDER BY n;

INSERT INTO orders (customer_id, amount, status, created_at)
SELECT
  1 + (seq * 37) % 300,
  ROUND(5 + MOD(seq * 7.31, 495), 2),
  ELT(1 + (seq * 13) % 4, 'pending', 'paid', 'shipped', 'refunded'),
  TIMESTAMP '2024-02-01 12:00:00' + INTERVAL seq * 221 MINUTE
FROM seq_1_to_1200;
