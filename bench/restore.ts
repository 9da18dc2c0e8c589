// `npm run bench:restore`: how long a restore takes on the same dump, side by side in one run:
// the plain pipe (`pg_restore -d` / `mariadb db <`), the same pipe behind dbcast (`--pipe`),
// the staging + swap preset (`--restore`), and for PostgreSQL the parallel preset
// (`--restore postgres --jobs N`, spooled). dbcast runs on loopback (one receiver), so its
// columns include the transfer. Servers are started in temp dirs (test/db/servers.ts); the
// fixtures are the end-to-end tests' (test/db/fixtures.ts). Writes bench/results/restore.md.
//
// The PostgreSQL database is the tests' fixture plus an index-heavy ledger table
// (RESTORE_LEDGER_ROWS rows, three secondary indexes), where pg_restore -j has work to share.
//
// Environment: RESTORE_REPS=2 RESTORE_JOBS=2 RESTORE_ENGINES=postgres,mariadb RESTORE_LEDGER_ROWS=3000000
import { execSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MY_SCHEMA, PG_SCHEMA } from '../test/db/fixtures';
import { mariadbMissing, postgresMissing, startMariadb, startPostgres, type Server } from '../test/db/servers';

const REPS = Number(process.env.RESTORE_REPS ?? 2);
const JOBS = Number(process.env.RESTORE_JOBS ?? 2);
const ENGINES = (process.env.RESTORE_ENGINES ?? 'postgres,mariadb').split(',');
const LEDGER_ROWS = Number(process.env.RESTORE_LEDGER_ROWS ?? 3_000_000);
const LEDGER = `
CREATE TABLE ledger (id bigint PRIMARY KEY, account int NOT NULL, booked_at timestamptz NOT NULL, amount numeric(12,2), memo text);
INSERT INTO ledger SELECT g, g % 50000, '2026-01-01'::timestamptz + g * interval '1 second', (g % 10000) / 3.0, 'memo ' || (g % 977) FROM generate_series(1, ${LEDGER_ROWS}) g;
CREATE INDEX ledger_account ON ledger (account, booked_at);
CREATE INDEX ledger_booked ON ledger (booked_at);
CREATE INDEX ledger_memo ON ledger (memo);
`;
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const NET = ['--interface', '127.0.0.1', '--group', '239.255.42.10', '--port', '9701', '--job', 'restore-bench'];

function sh(cmd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = ''; c.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    c.on('close', (code) => resolve({ code, stderr: stderr.slice(-2000) }));
  });
}

/** One dbcast transfer of `file` to one receiver with `receiveArgs`; seconds from send to both exits. */
async function viaDbcast(file: string, receiveArgs: string): Promise<number> {
  const t0 = performance.now();
  const rx = sh(`node ${DBCAST} receive ${NET.join(' ')} --log-level warn ${receiveArgs}`);
  await new Promise((r) => setTimeout(r, 300));
  const tx = await sh(`node ${DBCAST} send ${NET.join(' ')} --log-level warn --max-wait-sec 30 < ${file}`);
  const r = await rx;
  if (tx.code !== 0 || r.code !== 0) throw new Error(`dbcast failed: send ${tx.code} ${tx.stderr} / receive ${r.code} ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

async function timed(cmd: string): Promise<number> {
  const t0 = performance.now();
  const r = await sh(cmd);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

interface Variant { name: string; run: (i: number) => Promise<number> }

async function measure(title: string, dumpBytes: number, variants: Variant[]): Promise<string[]> {
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let rep = 0; rep < REPS; rep++) {
    // Alternate the order so that drift on a shared machine hits every variant alike.
    const order = rep % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const s = await v.run(rep);
      times.get(v.name)?.push(s);
      process.stderr.write(`${title} ${v.name}: ${s.toFixed(1)} s\n`);
    }
  }
  const base = Math.min(...(times.get(variants[0].name) as number[]));
  const lines = [`### ${title} (dump ${(dumpBytes / 1e6).toFixed(0)} MB, best of ${REPS})`, '', '| variant | seconds (each run) | best | vs plain pipe |', '| --- | --- | --- | --- |'];
  for (const v of variants) {
    const ts = times.get(v.name) as number[];
    const best = Math.min(...ts);
    lines.push(`| ${v.name} | ${ts.map((x) => x.toFixed(1)).join(', ')} | ${best.toFixed(1)} | ${(best / base).toFixed(2)} |`);
  }
  return [...lines, ''];
}

async function postgres(dir: string): Promise<string[]> {
  const pg: Server = startPostgres();
  try {
    pg.sql('postgres', 'CREATE DATABASE src');
    pg.sql('src', PG_SCHEMA);
    pg.sql('src', LEDGER);
    const c = `-h ${pg.host} -p ${pg.port} -U ${pg.user}`;
    const file = path.join(dir, 'pg.dump');
    execSync(`pg_dump ${c} -Fc src > ${file}`);
    const conn = `--restore postgres --db-host ${pg.host} --db-port ${pg.port} --db-user ${pg.user}`;
    const fresh = (db: string): void => { pg.sql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE); CREATE DATABASE ${db}`); };
    return await measure('PostgreSQL', fs.statSync(file).size, [
      { name: '`pg_restore -d` from the file (plain pipe, no dbcast)', run: async (i) => { fresh(`plain${i}`); return timed(`pg_restore ${c} --exit-on-error -d plain${i} < ${file}`); } },
      { name: 'dbcast `--pipe "pg_restore -d"` (straight into the database)', run: async (i) => { fresh(`piped${i}`); return viaDbcast(file, `--pipe "pg_restore ${c} --exit-on-error -d piped${i}"`); } },
      { name: 'dbcast `--restore postgres --jobs 1` (staging + swap, streamed)', run: () => viaDbcast(file, `${conn} --database staged --jobs 1`) },
      { name: `dbcast \`--restore postgres --jobs ${JOBS}\` (spool + pg_restore -j)`, run: () => viaDbcast(file, `${conn} --database parallel --jobs ${JOBS} --spool-dir ${dir}`) },
    ]);
  } finally { pg.stop(); }
}

async function mariadb(dir: string): Promise<string[]> {
  const my = await startMariadb();
  try {
    my.sql('', 'CREATE DATABASE src CHARACTER SET utf8mb4');
    my.sql('src', MY_SCHEMA);
    const file = path.join(dir, 'my.sql');
    execSync(`mariadb-dump --no-defaults --socket=${my.host} -u root --single-transaction --routines --triggers src > ${file}`);
    const fresh = (db: string): void => { my.sql('', `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}`); };
    const client = `mariadb --no-defaults --socket=${my.host} -u root`;
    return await measure('MariaDB', fs.statSync(file).size, [
      { name: '`mariadb db <` the file (plain pipe, no dbcast)', run: async (i) => { fresh(`plain${i}`); return timed(`${client} plain${i} < ${file}`); } },
      { name: 'dbcast `--pipe "mariadb db"` (straight into the database)', run: async (i) => { fresh(`piped${i}`); return viaDbcast(file, `--pipe "${client} piped${i}"`); } },
      { name: 'dbcast `--restore mariadb` (staging + swap)', run: () => viaDbcast(file, `--restore mariadb --db-host ${my.host} --db-user root --database staged`) },
    ]);
  } finally { my.stop(); }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-restore-bench-'));
  fs.chmodSync(dir, 0o777);
  const out = ['# Restore times on the same dump', '', `${new Date().toISOString()}, ${os.cpus().length} cores, ${os.hostname()}. dbcast columns include the loopback transfer.`, ''];
  try {
    if (ENGINES.includes('postgres')) {
      const why = postgresMissing();
      out.push(...(why ? [`PostgreSQL: not measured (${why})`, ''] : await postgres(dir)));
    }
    if (ENGINES.includes('mariadb')) {
      const why = mariadbMissing();
      out.push(...(why ? [`MariaDB: not measured (${why})`, ''] : await mariadb(dir)));
    }
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  const results = path.join(ROOT, 'bench', 'results');
  fs.mkdirSync(results, { recursive: true });
  fs.writeFileSync(path.join(results, 'restore.md'), out.join('\n'));
  process.stdout.write(out.join('\n'));
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
