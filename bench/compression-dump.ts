// Realistic text dumps for the compression bench: a generated schema with text, numbers and
// dates (the shape of an orders/customers database), dumped the way operators dump it
// (`pg_dump -Fp`, `mariadb-dump`). Written once per size into a cache directory and reused.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { startMariadb, startPostgres, type Server } from '../test/db/servers';

/** Bytes of dump one generated row gives, about (so the row count hits the size asked). */
const DUMP_BYTES_PER_ROW = 110;

const PG_WORDS = `ARRAY['delivered','pending','returned','backorder','express','standard','invoice','refund','warehouse','Zürich','Kraków','São Paulo','Lisboa','Berlin','customer','priority','gift','fragile','paid','overdue']`;

function pgSchema(rows: number): string {
  return `
CREATE TABLE customers (id int PRIMARY KEY, name text, email text, city text, created date);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int, placed_at timestamptz, total numeric(12,2), status text, note text);
INSERT INTO customers SELECT g, 'Kunde ' || g, 'user' || g || '@example.com', (${PG_WORDS})[1 + g % 20], date '2015-01-01' + (g % 4000) FROM generate_series(1, ${Math.max(1, Math.floor(rows / 10))}) g;
INSERT INTO orders SELECT g, 1 + (g::bigint * 7919) % ${Math.max(1, Math.floor(rows / 10))}, timestamptz '2024-01-01' + g * interval '17 seconds', ((g::bigint * 31) % 100000) / 100.0,
  (${PG_WORDS})[1 + (g * 13) % 20],
  (${PG_WORDS})[1 + (g * 7) % 20] || ' ' || (${PG_WORDS})[1 + (g * 11) % 20] || ' order ' || g || ' for ' || (${PG_WORDS})[1 + floor(random() * 20)::int] || ' ref ' || substr(md5(g::text), 1, 8)
FROM generate_series(1, ${rows}) g;
`;
}

const MY_WORDS = `'delivered','pending','returned','backorder','express','standard','invoice','refund','warehouse','Zürich','Kraków','São Paulo','Lisboa','Berlin','customer','priority','gift','fragile','paid','overdue'`;

function mySchema(rows: number): string {
  const customers = Math.max(1, Math.floor(rows / 10));
  // seq_1_to_N tables of the Sequence engine generate the rows server-side, in chunks so that
  // no single INSERT holds everything in one transaction's undo.
  const chunk = 1_000_000;
  const inserts: string[] = [];
  for (let from = 1; from <= rows; from += chunk) {
    const to = Math.min(rows, from + chunk - 1);
    inserts.push(`INSERT INTO orders SELECT seq, 1 + (seq * 7919) % ${customers}, '2024-01-01' + INTERVAL (seq * 17) SECOND, ((seq * 31) % 100000) / 100,
  ELT(1 + (seq * 13) % 20, ${MY_WORDS}),
  CONCAT(ELT(1 + (seq * 7) % 20, ${MY_WORDS}), ' ', ELT(1 + (seq * 11) % 20, ${MY_WORDS}), ' order ', seq, ' for ', ELT(1 + FLOOR(RAND() * 20), ${MY_WORDS}), ' ref ', LEFT(MD5(seq), 8))
FROM seq_${from}_to_${to};`);
  }
  return `
SET NAMES utf8mb4;
CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100), city VARCHAR(50), created DATE) DEFAULT CHARSET=utf8mb4;
CREATE TABLE orders (id BIGINT PRIMARY KEY, customer_id INT, placed_at DATETIME, total DECIMAL(12,2), status VARCHAR(20), note VARCHAR(200)) DEFAULT CHARSET=utf8mb4;
INSERT INTO customers SELECT seq, CONCAT('Kunde ', seq), CONCAT('user', seq, '@example.com'), ELT(1 + seq % 20, ${MY_WORDS}), '2015-01-01' + INTERVAL (seq % 4000) DAY FROM seq_1_to_${customers};
${inserts.join('\n')}
`;
}

/** Dump `engine`'s generated database of about `bytes` into `file` (kept if already there). */
export async function makeDump(engine: 'postgres' | 'mariadb', bytes: number, file: string): Promise<string> {
  if (fs.existsSync(file) && fs.statSync(file).size > 0) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const rows = Math.ceil(bytes / DUMP_BYTES_PER_ROW);
  const server: Server = engine === 'postgres' ? startPostgres() : await startMariadb();
  const temp = `${file}.partial`;
  try {
    if (engine === 'postgres') {
      server.sql('postgres', 'CREATE DATABASE gen');
      server.sql('gen', pgSchema(rows));
      const fd = fs.openSync(temp, 'w');
      const r = spawnSync('pg_dump', ['-Fp', '-h', server.host, '-p', String(server.port), '-U', server.user, 'gen'], { stdio: ['ignore', fd, 'inherit'] });
      fs.closeSync(fd);
      if (r.status !== 0) throw new Error(`pg_dump exited ${r.status}`);
    } else {
      server.sql('', 'CREATE DATABASE gen');
      server.sql('gen', mySchema(rows));
      const fd = fs.openSync(temp, 'w');
      const r = spawnSync('mariadb-dump', ['--no-defaults', `--socket=${server.host}`, '-u', server.user, '--single-transaction', 'gen'], { stdio: ['ignore', fd, 'inherit'] });
      fs.closeSync(fd);
      if (r.status !== 0) throw new Error(`mariadb-dump exited ${r.status}`);
    }
    fs.renameSync(temp, file);
  } finally {
    server.stop();
    fs.rmSync(temp, { force: true });
  }
  return file;
}

// Run directly: node dist/bench/compression-dump.js postgres|mariadb BYTES FILE
if (require.main === module) {
  const [engine, bytes, file] = process.argv.slice(2);
  void makeDump(engine as 'postgres' | 'mariadb', Number(bytes), file).then((f) => {
    process.stdout.write(`${f} ${fs.statSync(f).size} bytes\n`);
  });
}
