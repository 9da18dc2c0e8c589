// `node dist/bench/physical-mariadb.js` (not a timed test): time from the start of the backup
// or dump to 2 replicas answering queries on the new data, physical against logical, on the
// same MariaDB database, side by side in one run:
//  - physical: `mariabackup --backup --stream=xbstream` → `--restore mariadb-server` (spool,
//    mbstream -x, prepare, stop, swap, start, check);
//  - logical:  `mariadb-dump --single-transaction` → `--restore mariadb` (spool, import into a
//    staging schema, swap).
// Both over dbcast on loopback, one multicast stream to 2 receivers, each with its own running
// server (test/db/servers.ts startMariadbInstance). The clock stops when both receivers exited 0
// and a query on the new data answered on both. Writes bench/results/physical-mariadb.md.
// (A sibling of the PostgreSQL bench/physical.ts; the lead may fold it in as its MariaDB section.)
//
// Environment: PHYSICAL_MY_ROWS=4000000 (about 1.1 GB on disk with its indexes).
import * as fs from 'fs';
import * as path from 'path';
import { mariadbMissing, startMariadbInstance, type MariadbInstance } from '../test/db/servers';
import { sh } from './shell';

const ROWS = Number(process.env.PHYSICAL_MY_ROWS ?? 4_000_000);
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const NET = ['--interface', '127.0.0.1', '--group', '239.255.43.3'];
const PORTS = { physical: 9885, logical: 9886 };


const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

async function transfer(name: string, port: number, command: string, receivers: string[], answer: () => void): Promise<{ seconds: number; bytes: number }> {
  const rx = receivers.map((args, i) => sh(`node ${DBCAST} receive ${NET.join(' ')} --port ${port} --job ${name} --name r${i + 1} --log-level info ${args}`));
  await Promise.all(rx.map((r) => r.said(/listening for job/)));
  const t0 = performance.now();
  const tx = sh(`node ${DBCAST} send ${NET.join(' ')} --port ${port} --job ${name} --min-receivers ${receivers.length} --max-wait-sec 60 --log-level info --command ${q(command)}`);
  const [s, ...rs] = await Promise.all([tx.done, ...rx.map((r) => r.done)]);
  if (s.code !== 0 || rs.some((r) => r.code !== 0)) throw new Error(`${name}: send ${s.code} ${s.stderr}\n${rs.map((r) => `receive ${r.code} ${r.stderr}`).join('\n')}`);
  answer();
  const seconds = (performance.now() - t0) / 1000;
  const bytes = Number(/(\d+) bytes/.exec(rs[0].stderr.split('\n').filter((l) => /bytes, \d+ repairs/.test(l)).pop() ?? '')?.[1] ?? 0);
  process.stderr.write(`${name}: ${seconds.toFixed(1)} s, ${(bytes / 1e6).toFixed(0)} MB on the stream\n`);
  return { seconds, bytes };
}

async function main(): Promise<void> {
  const missing = mariadbMissing();
  if (missing) { process.stderr.write(`skipped: ${missing}\n`); return; }
  const servers: MariadbInstance[] = [];
  try {
    const primary = await startMariadbInstance({ name: 'bench-primary', serverId: 1, port: 9887 });
    servers.push(primary);
    process.stderr.write(`loading ${ROWS} rows\n`);
    primary.sql('', `CREATE DATABASE app; CREATE TABLE app.ledger (id BIGINT PRIMARY KEY, account INT NOT NULL, booked_at DATETIME NOT NULL, amount DECIMAL(12,2), memo VARCHAR(200), KEY (account, booked_at), KEY (booked_at), KEY (memo)) ENGINE=InnoDB`);
    for (let from = 1; from <= ROWS; from += 1_000_000) {
      const to = Math.min(ROWS, from + 999_999);
      primary.sql('app', `INSERT INTO ledger SELECT seq, seq % 50000, '2026-01-01' + INTERVAL seq SECOND, (seq % 10000) / 3, CONCAT('memo ', seq % 977, ' ', REPEAT('x', 80 + seq % 60)) FROM seq_${from}_to_${to}`);
    }
    const onDisk = Number(primary.sql('', "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'app'").trim());
    const want = primary.sql('app', 'SELECT COUNT(*), SUM(amount) FROM ledger').trim();
    for (const [i, port] of [[2, 9888], [3, 9889]]) {
      const r = await startMariadbInstance({ name: `bench-rx${i - 1}`, serverId: i, port });
      r.sql('', 'CREATE DATABASE app; CREATE TABLE app.ledger (id BIGINT PRIMARY KEY, amount DECIMAL(12,2))');
      servers.push(r);
    }
    const rx = servers.slice(1);
    const spool = fs.mkdtempSync('/tmp/dbcast-bench-my-');
    const check = (): void => {
      for (const r of rx) if (r.sql('app', 'SELECT COUNT(*), SUM(amount) FROM ledger').trim() !== want) throw new Error(`${r.dir}: not the new data`);
    };
    const physical = await transfer('physical', PORTS.physical,
      `mariabackup --backup --stream=xbstream --user=root --socket=${primary.host} --target-dir=${spool}`,
      rx.map((r) => `--restore mariadb-server --data-dir ${r.data} --db-host ${r.host} --db-user root --spool-dir ${spool} --stop-command ${q(r.stopCommand)} --start-command ${q(r.startCommand)} --server-log ${r.errLog}`), check);
    for (const r of rx) r.sql('', 'DROP DATABASE app; CREATE DATABASE app; CREATE TABLE app.ledger (id BIGINT PRIMARY KEY, amount DECIMAL(12,2))');
    const logical = await transfer('logical', PORTS.logical,
      `mariadb-dump --no-defaults --socket=${primary.host} -u root --single-transaction app`,
      rx.map((r) => `--restore mariadb --database app --db-host ${r.host} --db-user root --spool-dir ${spool}`), check);
    fs.rmSync(spool, { recursive: true, force: true });
    const md = [
      '# Physical vs logical, MariaDB (bench/physical-mariadb.ts)', '',
      `${ROWS} rows in app.ledger, ${(onDisk / 2 ** 30).toFixed(2)} GiB on disk (data + indexes); 2 receivers on loopback, each with its own server.`,
      'Time from the start of the backup/dump until both receivers exited 0 and answered a query on the new data.', '',
      '| path | stream | seconds |', '| --- | --- | --- |',
      `| physical: mariabackup → --restore mariadb-server | ${(physical.bytes / 1e6).toFixed(0)} MB | ${physical.seconds.toFixed(1)} |`,
      `| logical: mariadb-dump → --restore mariadb | ${(logical.bytes / 1e6).toFixed(0)} MB | ${logical.seconds.toFixed(1)} |`, '',
    ].join('\n');
    fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
    fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'physical-mariadb.md'), md);
    process.stdout.write(md);
  } finally {
    for (const s of servers) s.stop();
  }
}

main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
