// `npm run bench:physical`: time from the start of the dump to 2 replicas answering queries on
// the new data, physical against logical, on the same database, side by side in one run:
//  - physical: `pg_basebackup -D - -Ft -X fetch` → `--restore postgres-cluster` (extract, stop, swap, start, check);
//  - logical:  `pg_dump -Fc` → `--restore postgres` (spool, pg_restore -j into staging, swap).
// Both over dbcast on loopback (one multicast stream, 2 receivers, each with its own running
// cluster). The clock stops when both receivers exited 0 and a query on the new data answered
// on both. Engines are separate functions (a MariaDB section can sit beside postgres()).
// Writes bench/results/physical.md.
//
// Environment: PHYSICAL_PG_SCALE=70 (pgbench scale; 70 is about 1.05 GB on disk), PHYSICAL_ENGINES=postgres,
// PHYSICAL_JOBS=2 (pg_restore -j for the logical side).
import { execSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { postgresMissing, startPgCluster, startPostgres, type PgCluster, type Server } from '../test/db/servers';
import { sh } from './shell';

const PG_SCALE = Number(process.env.PHYSICAL_PG_SCALE ?? 70);
const ENGINES = (process.env.PHYSICAL_ENGINES ?? 'postgres').split(',');
const JOBS = Number(process.env.PHYSICAL_JOBS ?? 2);
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const NET = ['--interface', '127.0.0.1', '--group', '239.255.43.2'];
const PORTS = { physical: 9866, logical: 9867 };


interface Timing { name: string; seconds: number; streamBytes: number; note: string }

/** Receivers listening, then the send; seconds until both exited 0 and `query` answered on both. */
async function transfer(name: string, port: number, command: string, receivers: string[], answer: () => void, dir: string): Promise<Timing> {
  const rx = receivers.map((args, i) => sh(`node ${DBCAST} receive ${NET.join(' ')} --port ${port} --job ${name} --name r${i + 1} --log-level info ${args}`));
  await Promise.all(rx.map((r) => r.said(/listening for job/)));
  const report = path.join(dir, `${name}.json`);
  const t0 = performance.now();
  const tx = sh(`node ${DBCAST} send ${NET.join(' ')} --port ${port} --job ${name} --min-receivers ${receivers.length} --max-wait-sec 60 --log-level warn --report ${report} --command '${command}'`);
  const [s, ...rs] = await Promise.all([tx.done, ...rx.map((r) => r.done)]);
  if (s.code !== 0 || rs.some((r) => r.code !== 0)) throw new Error(`${name}: send ${s.code} ${s.stderr}\n${rs.map((r) => `receive ${r.code} ${r.stderr}`).join('\n')}`);
  answer();
  const seconds = (performance.now() - t0) / 1000;
  const rep = JSON.parse(fs.readFileSync(report, 'utf8')) as { totalBytes: number; durationSec?: number };
  process.stderr.write(`${name}: ${seconds.toFixed(1)} s, ${(rep.totalBytes / 1e6).toFixed(0)} MB on the stream\n`);
  return { name, seconds, streamBytes: rep.totalBytes, note: '' };
}

async function postgres(dir: string): Promise<string[]> {
  const primary: Server = startPostgres();
  const replicas: PgCluster[] = [];
  try {
    primary.sql('postgres', 'CREATE DATABASE app');
    const c = `-h ${primary.host} -p ${primary.port} -U postgres`;
    process.stderr.write(`pgbench -i -s ${PG_SCALE} ...\n`);
    execSync(`pgbench -i -q -s ${PG_SCALE} ${c} app`, { stdio: 'ignore' });
    primary.sql('app', 'CHECKPOINT');
    const dbBytes = Number(primary.sql('app', "SELECT pg_database_size('app')").trim());
    const clusterBytes = Number(execSync(`du -s -B1 ${primary.host}/data`).toString().split(/\s/)[0]);
    const accounts = primary.sql('app', 'SELECT count(*) FROM pgbench_accounts').trim();
    replicas.push(startPgCluster(9868, 'dbcast-bench-r1-'), startPgCluster(9869, 'dbcast-bench-r2-'));
    const answers = (r: PgCluster): void => {
      const n = r.sql('app', 'SELECT count(*) FROM pgbench_accounts').trim();
      if (n !== accounts) throw new Error(`replica on ${r.port} answers ${n} accounts, the primary has ${accounts}`);
    };
    const conn = (r: PgCluster): string => `--db-host ${r.host} --db-port ${r.port} --db-user postgres`;
    // Logical first (it restores into the replicas' small clusters), then physical replaces them whole.
    const logical = await transfer('logical', PORTS.logical, `pg_dump ${c} -Fc app`,
      replicas.map((r) => `--restore postgres --database app --jobs ${JOBS} --spool-dir ${r.dir} ${conn(r)}`), () => replicas.forEach(answers), dir);
    const physical = await transfer('physical', PORTS.physical, `pg_basebackup ${c} -D - -Ft -X fetch --checkpoint=fast`,
      replicas.map((r) => `--restore postgres-cluster --data-dir ${r.dataDir} ${conn(r)} --stop-command '${r.rootStopCommand}' --start-command '${r.rootStartCommand}' --server-log ${r.logFile}`),
      () => replicas.forEach(answers), dir);
    const row = (x: Timing, how: string): string => `| ${x.name} | ${how} | ${(x.streamBytes / 1e6).toFixed(0)} | ${x.seconds.toFixed(1)} |`;
    return [
      `## PostgreSQL (pgbench scale ${PG_SCALE}: database ${(dbBytes / 1e9).toFixed(2)} GB, cluster ${(clusterBytes / 1e9).toFixed(2)} GB on disk, ${accounts} accounts; 2 receivers)`, '',
      '| variant | sender command → receiver | MB on the stream | seconds to both answering |', '| --- | --- | --- | --- |',
      row(physical, '`pg_basebackup -D - -Ft -X fetch --checkpoint=fast` → `--restore postgres-cluster`'),
      row(logical, `\`pg_dump -Fc\` → \`--restore postgres --jobs ${JOBS}\``),
      '', `Physical took ${(physical.seconds / logical.seconds).toFixed(2)}× the logical time.`, '',
      'pgbench rows compress far better in `pg_dump -Fc` than most data and carry one index per table: the best case for',
      'logical. Physical time follows the bytes on disk (stream, extraction, crash recovery); logical time follows rows and',
      'indexes rebuilt on every replica.', '',
    ];
  } finally {
    for (const r of replicas) r.stop();
    primary.stop();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-physical-bench-'));
  const out = ['# Physical vs logical: dump start to 2 replicas answering on the new data', '',
    `${new Date().toISOString()}, ${os.cpus().length} cores, ${os.hostname()}; dbcast on loopback at its default rate; one run each.`, ''];
  try {
    if (ENGINES.includes('postgres')) {
      const why = postgresMissing();
      out.push(...(why ? [`PostgreSQL: not measured (${why})`, ''] : await postgres(dir)));
    }
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  const results = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(path.join(results, 'physical.md'), out.join('\n'));
  process.stdout.write(out.join('\n'));
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
