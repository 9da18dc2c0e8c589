// The realistic databases the end-to-end tests and the restore benchmark dump and restore:
// several tables with indexes and foreign keys, views, a sequence or triggers and routines,
// non-ASCII text and incompressible binary data.

/** PostgreSQL: rows of ~1 KiB of random bytes: they do not compress, so the dump is over 100 MB. */
const PG_BLOB_ROWS = 100_000;

export const PG_SCHEMA = `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id), placed_at timestamptz, total numeric(10,2));
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE blobs (id int PRIMARY KEY, data bytea);
CREATE SEQUENCE invoice_no START 1000;
SELECT setval('invoice_no', 4242);
CREATE VIEW big_customers AS SELECT c.id, c.name, sum(o.total) AS total FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.name;
INSERT INTO customers (name, city) SELECT 'Kunde ' || g || ' Grüße 日本 ñ', (ARRAY['Zürich', 'Kraków', 'São Paulo'])[1 + g % 3] FROM generate_series(1, 20000) g;
INSERT INTO orders (customer_id, placed_at, total) SELECT 1 + g % 20000, '2026-01-01'::timestamptz + g * interval '1 minute', (g % 1000) / 7.0 FROM generate_series(1, 200000) g;
INSERT INTO blobs SELECT g, (SELECT decode(string_agg(md5(random()::text || s || g), ''), 'hex') FROM generate_series(1, 64) s) FROM generate_series(1, ${PG_BLOB_ROWS}) g;
ANALYZE;
`;

/** Rows of 1 KiB random blobs in the MariaDB fixture. */
const MY_BLOB_ROWS = 20_000;

export const MY_SCHEMA = `
SET NAMES utf8mb4;
CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, city VARCHAR(50)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE orders (id BIGINT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, placed_at DATETIME, total DECIMAL(10,2),
  KEY orders_customer (customer_id), CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB);
CREATE TABLE audit (order_id BIGINT, noted_at DATETIME);
INSERT INTO customers (name, city) SELECT CONCAT('Kunde ', seq, ' Grüße 日本 ñ'), ELT(1 + seq % 3, 'Zürich', 'Kraków', 'São Paulo') FROM seq_1_to_20000;
INSERT INTO orders (customer_id, placed_at, total) SELECT 1 + seq % 20000, '2026-01-01' + INTERVAL seq MINUTE, (seq % 1000) / 7 FROM seq_1_to_100000;
INSERT INTO blobs SELECT seq, RANDOM_BYTES(1024) FROM seq_1_to_${MY_BLOB_ROWS};
CREATE VIEW city_orders AS SELECT c.city, o.total FROM orders o JOIN customers c ON c.id = o.customer_id;
CREATE VIEW city_totals AS SELECT city, SUM(total) AS total FROM city_orders GROUP BY city;
CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit VALUES (NEW.id, NOW());
DELIMITER //
CREATE PROCEDURE add_order(IN c INT, IN amount DECIMAL(10,2)) BEGIN INSERT INTO orders (customer_id, placed_at, total) VALUES (c, NOW(), amount); SELECT LAST_INSERT_ID(); END//
CREATE FUNCTION with_tax(amount DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN amount * 1.2//
DELIMITER ;
`;

/** MY_SCHEMA and three more tables, for --restore mariadb --jobs: a name with a space, a
 *  backtick and non-ASCII, foreign keys into MY_SCHEMA's tables, a unique secondary index, a
 *  view on a view on it, and an event. Seven tables in all. */
export const MY_JOBS_SCHEMA = `${MY_SCHEMA}
CREATE TABLE products (id INT PRIMARY KEY, sku VARCHAR(20) NOT NULL, title VARCHAR(200), UNIQUE KEY products_sku (sku)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE \`order lines\`\` ä\` (order_id BIGINT NOT NULL, product_id INT NOT NULL, qty INT NOT NULL, PRIMARY KEY (order_id, product_id),
  KEY lines_product (product_id), CONSTRAINT fk_line_order FOREIGN KEY (order_id) REFERENCES orders (id), CONSTRAINT fk_line_product FOREIGN KEY (product_id) REFERENCES products (id)) DEFAULT CHARSET=utf8mb4;
CREATE TABLE stock_moves (id INT AUTO_INCREMENT PRIMARY KEY, product_id INT NOT NULL, moved_at DATETIME NOT NULL, note TEXT, KEY moves_product (product_id, moved_at)) DEFAULT CHARSET=utf8mb4;
INSERT INTO products SELECT seq, CONCAT('SKU-', seq), CONCAT('Produkt ', seq, ' — Ölfilter «groß» 商品') FROM seq_1_to_5000;
INSERT INTO \`order lines\`\` ä\` SELECT 1 + seq % 100000, 1 + seq % 5000, 1 + seq % 7 FROM seq_1_to_60000;
INSERT INTO stock_moves (product_id, moved_at, note) SELECT 1 + seq % 5000, '2026-02-01' + INTERVAL seq SECOND, REPEAT('x', seq % 300) FROM seq_1_to_50000;
CREATE VIEW line_products AS SELECT l.order_id, p.sku, l.qty FROM \`order lines\`\` ä\` l JOIN products p ON p.id = l.product_id;
CREATE VIEW sku_totals AS SELECT sku, SUM(qty) AS qty FROM line_products GROUP BY sku;
CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM audit WHERE noted_at < NOW() - INTERVAL 30 DAY;
`;
