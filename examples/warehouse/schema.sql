-- The warehouse of examples/warehouse: a CRM's customers, the view the newsletter list is
-- declared from, and the complaints every list must honour. Load it into a database of its
-- own (see README.md): psql "$WAREHOUSE_DSN" -f schema.sql
DROP VIEW IF EXISTS newsletter_audience;
DROP TABLE IF EXISTS complaints, customers;

CREATE TABLE customers (
  customer_id bigint PRIMARY KEY,
  email text NOT NULL,
  first_name text,
  country text,
  newsletter_opt_in boolean NOT NULL DEFAULT false
);
INSERT INTO customers VALUES
  (1001, 'ann.archer@example.com', 'Ann', 'GB', true),
  (1002, 'Bob.Baker@Example.com ', 'Bob', 'US', true),
  (1003, 'carl.cole@example.com', 'Carl', 'DE', true),
  (1004, 'dana.diaz@example.com', 'Dana', 'ES', false),
  (1005, 'eve.evans@example.com', 'Eve', 'US', true),
  (1006, 'kim.kato@example.com', 'Kim', 'JP', true);

-- What the list is: opted-in customers. The view is the contract between the data team and
-- the repository; reconciler reads it and nothing else.
CREATE VIEW newsletter_audience AS
  SELECT customer_id, email, first_name
  FROM customers
  WHERE newsletter_opt_in;

CREATE TABLE complaints (
  complaint_id text PRIMARY KEY,
  email text NOT NULL,
  received_at timestamptz NOT NULL
);
INSERT INTO complaints VALUES ('cmp-17', 'kim.kato@example.com', '2026-11-20 09:14:00+00');
