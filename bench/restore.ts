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
// The MariaDB database is the tests' fixture (four tables, views, trigger, routines) plus two large tables with
// secondary indexes (RESTORE_MY_ROWS rows each; the default makes a dump over 500 MB). Its
// anchors: `mariadb db <` the file, myloader at --jobs threads from a mydumper export of the
// same database, and the floor a table-parallel import cannot beat: the schema, the largest
// table alone, then the views and routines (each timed on its own from the same dump).
//
// Environment: RESTORE_REPS=2 RESTORE_JOBS=2 RESTORE_ENGINES=postgres,mariadb RESTORE_LEDGER_ROWS=3000000
// RESTORE_MY_ROWS=2500000 RESTORE_MY_REPS=1 RESTORE_MY_ONE_CLIENT=1 (adds --restore mariadb --jobs 1)
import { execSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MY_SCHEMA, PG_SCHEMA } from '../test/db/fixtures';
import { splitDump, rangeBytes, type ByteRange } from '../receiver/restore/mariadb/split';
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
const MY_ROWS = Number(process.env.RESTORE_MY_ROWS ?? 2_500_000);
const MY_REPS = Number(process.env.RESTORE_MY_REPS ?? 1);
const MY_BIG = `
CREATE TABLE ledger (id BIGINT PRIMARY KEY, account INT NOT NULL, booked_at DATETIME NOT NULL, amount DECIMAL(12,2), memo VARCHAR(200),
  KEY ledger_account (account, booked_at), KEY ledger_booked (booked_at)) DEFAULT CHARSET=utf8mb4;
INSERT INTO ledger SELECT seq, seq % 50000, '2026-01-01' + INTERVAL seq SECOND, (seq % 10000) / 3, CONCAT('Buchung ', seq % 977, ' für Konto ', seq % 50000, ' — Überweisung') FROM seq_1_to_${MY_ROWS};
CREATE TABLE readings (id BIGINT PRIMARY KEY, device INT NOT NULL, taken_at DATETIME NOT NULL, value DOUBLE, note VARCHAR(100),
  KEY readings_device (device, taken_at), KEY readings_value (value)) DEFAULT CHARSET=utf8mb4;
INSERT INTO readings SELECT seq, seq % 20000, '2026-03-01' + INTERVAL seq SECOND, RAND(seq) * 1000, CONCAT('sensor ', seq % 313, ' ok') FROM seq_1_to_${MY_ROWS};
`;
const ROOT = [path.resolve(__dirname, '..'), path.resolve(__dirname, '..', '..')].find((d) => fs.existsSync(path.join(d, 'package.json'))) as string;
const DBCAST = path.join(ROOT, 'bin', 'dbcast');
const NET = ['--interface', '127.0.0.1', '--group', '239.255.42.10', '--port', '9701', '--job', 'restore-bench'];

function sh(cmd: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = ''; c.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-20000); });
    c.on('close', (code) => resolve({ code, stderr }));
  });
}

/** What the last dbcast receive said about its parallel import ("imported 9 tables, 2 at once, in 80.1 s"). */
let lastImportSec: number | null = null;

/** One dbcast transfer of `file` to one receiver with `receiveArgs`; seconds from send to both exits. */
async function viaDbcast(file: string, receiveArgs: string): Promise<number> {
  const t0 = performance.now();
  const rx = sh(`node ${DBCAST} receive ${NET.join(' ')} --log-level info ${receiveArgs}`);
  await new Promise((r) => setTimeout(r, 300));
  const tx = await sh(`node ${DBCAST} send ${NET.join(' ')} --log-level warn --max-wait-sec 30 < ${file}`);
  const r = await rx;
  if (tx.code !== 0 || r.code !== 0) throw new Error(`dbcast failed: send ${tx.code} ${tx.stderr} / receive ${r.code} ${r.stderr}`);
  const m = /imported \d+ tables, \d+ at once, in ([\d.]+) s/.exec(r.stderr);
  lastImportSec = m ? Number(m[1]) : null;
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
  return measureWith(title, dumpBytes, REPS, variants);
}

async function measureWith(title: string, dumpBytes: number, reps: number, variants: Variant[]): Promise<string[]> {
  const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let rep = 0; rep < reps; rep++) {
    // Alternate the order so that drift on a shared machine hits every variant alike.
    const order = rep % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const s = await v.run(rep);
      times.get(v.name)?.push(s);
      process.stderr.write(`${title} ${v.name}: ${s.toFixed(1)} s\n`);
    }
  }
  const base = Math.min(...(times.get(variants[0].name) as number[]));
  const lines = [`### ${title} (dump ${(dumpBytes / 1e6).toFixed(0)} MB, best of ${reps})`, '', '| variant | seconds (each run) | best | vs plain pipe |', '| --- | --- | --- | --- |'];
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
    // The spool refuses a directory others may write (the bench dir is 0777 for the postgres user).
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-restore-spool-'));
    const fresh = (db: string): void => { pg.sql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE); CREATE DATABASE ${db}`); };
    return await measure('PostgreSQL', fs.statSync(file).size, [
      { name: '`pg_restore -d` from the file (plain pipe, no dbcast)', run: async (i) => { fresh(`plain${i}`); return timed(`pg_restore ${c} --exit-on-error -d plain${i} < ${file}`); } },
      { name: 'dbcast `--pipe "pg_restore -d"` (straight into the database)', run: async (i) => { fresh(`piped${i}`); return viaDbcast(file, `--pipe "pg_restore ${c} --exit-on-error -d piped${i}"`); } },
      { name: 'dbcast `--restore postgres --jobs 1` (staging + swap, streamed)', run: () => viaDbcast(file, `${conn} --database staged --jobs 1`) },
      { name: `dbcast \`--restore postgres --jobs ${JOBS}\` (spool + pg_restore -j)`, run: () => viaDbcast(file, `${conn} --database parallel --jobs ${JOBS} --spool-dir ${spoolDir}`) },
    ]);
  } finally { pg.stop(); }
}

/** Feed byte ranges of `file` (and literal SQL) to one client; seconds. */
async function feed(client: string, file: string, pieces: Array<Buffer | ByteRange>): Promise<number> {
  const t0 = performance.now();
  const c = spawn('/bin/sh', ['-c', client], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = ''; c.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  const closed = new Promise<number | null>((resolve) => c.on('close', resolve));
  for (const p of pieces) {
    if (Buffer.isBuffer(p)) { c.stdin.write(p); continue; }
    for await (const chunk of fs.createReadStream(file, { start: p.start, end: p.end - 1, highWaterMark: 1 << 20 })) {
      if (!c.stdin.write(chunk)) await new Promise((r) => c.stdin.once('drain', r));
    }
  }
  c.stdin.end();
  const code = await closed;
  if (code !== 0) throw new Error(`${client}: exit ${code}: ${stderr}`);
  return (performance.now() - t0) / 1000;
}

async function mariadb(dir: string): Promise<string[]> {
  // Binary log on: mydumper 0.10 reads the master status (and crashed without one here); every
  // importer then writes the binlog, myloader too (-e), as on a replica that can be promoted.
  const my = await startMariadb(['--log-bin=binlog', '--server-id=1']);
  try {
    my.sql('', 'CREATE DATABASE src CHARACTER SET utf8mb4');
    process.stderr.write(`MariaDB: generating the fixture (${MY_ROWS} rows in each large table)\n`);
    // MY_SCHEMA, not the --jobs test's fixture: mydumper 0.10 crashes on its table name with a backtick.
    my.sql('src', MY_SCHEMA);
    my.sql('src', MY_BIG);
    const file = path.join(dir, 'my.sql');
    execSync(`mariadb-dump --no-defaults --socket=${my.host} -u root --single-transaction --routines --triggers --events src > ${file}`);
    const mydumper = path.join(dir, 'mydumper');
    let mydumperFailed: string | null = null;
    try {
      execSync(`mydumper -S ${my.host} -u root -B src -o ${mydumper} -t ${JOBS} -r 500000 -G -E -R -v 1`, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      // What mydumper (or the shell: "not found" = apt-get install mydumper) said, not only that it failed.
      const said = String((err as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop() ?? '';
      mydumperFailed = `mydumper failed${said ? `: ${said}` : ''}`;
    }
    const fresh = (db: string): void => { my.sql('', `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4`); };
    const client = `mariadb --no-defaults --socket=${my.host} -u root`;
    // The spool refuses a directory others may write (the bench dir is 0777 for the postgres user).
    const spoolDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-restore-spool-'));
    const split = await splitDump(file);
    if (!split.ok) throw new Error(`the bench dump does not split: ${split.reason}`);
    const plan = split.plan;
    const largest = [...plan.tables].sort((a, b) => rangeBytes(b.range) - rangeBytes(a.range))[0];
    const floor: { schema: number; table: number; objects: number }[] = [];
    const dbcastImport: number[] = [];
    const rows = await measureWith('MariaDB', fs.statSync(file).size, MY_REPS, [
      { name: '`mariadb db <` the file (sequential, no dbcast)', run: async (i) => { fresh(`plain${i}`); return timed(`${client} plain${i} < ${file}`); } },
      ...(mydumperFailed ? [] : [{ name: `\`myloader -t ${JOBS} -e\` from a \`mydumper -t ${JOBS} -r 500000\` export (no dbcast)`, run: async (i: number) => { fresh(`myl${i}`); return timed(`myloader -S ${my.host} -u root -B myl${i} -d ${mydumper} -t ${JOBS} -o -e -v 1`); } }]),
      ...(process.env.RESTORE_MY_ONE_CLIENT ? [{ name: 'dbcast `--restore mariadb --jobs 1` (staging + swap, one client)', run: () => viaDbcast(file, `--restore mariadb --db-host ${my.host} --db-user root --database seq --jobs 1 --spool-dir ${spoolDir}`) }] : []),
      { name: `dbcast \`--restore mariadb --jobs ${JOBS}\` (spool, split, ${JOBS} tables at once, swap)`, run: async () => {
        const s = await viaDbcast(file, `--restore mariadb --db-host ${my.host} --db-user root --database par --jobs ${JOBS} --spool-dir ${spoolDir}`);
        if (lastImportSec !== null) dbcastImport.push(lastImportSec);
        return s;
      } },
      { name: `floor: the schema, then \`${largest.name}\` alone, then views and routines (one client each)`, run: async (i) => {
        fresh(`floor${i}`);
        const c = `${client} floor${i}`;
        const schema = await feed(c, file, plan.prologue);
        const table = await feed(c, file, [plan.sessionSettings, largest.range, plan.sessionRestore]);
        const objects = await feed(c, file, [plan.sessionSettings, ...plan.epilogue]);
        floor.push({ schema, table, objects });
        return schema + table + objects;
      } },
    ]);
    const best = (xs: number[]): number => Math.min(...xs);
    const f = floor.reduce((a, b) => (a.schema + a.table + a.objects <= b.schema + b.table + b.objects ? a : b));
    const floorSec = f.schema + f.table + f.objects;
    const imp = dbcastImport.length ? best(dbcastImport) : NaN;
    if (mydumperFailed) rows.push(`myloader: not measured (${mydumperFailed}).`, '');
    rows.push(`Tables: ${plan.tables.map((x) => `${x.name} ${(rangeBytes(x.range) / 1e6).toFixed(0)} MB`).join(', ')}.`, '');
    rows.push(`Floor: schema ${f.schema.toFixed(1)} s + \`${largest.name}\` alone ${f.table.toFixed(1)} s + views/routines/events ${f.objects.toFixed(1)} s = ${floorSec.toFixed(1)} s.`);
    rows.push(`dbcast --jobs ${JOBS} import alone (its log: split to the last client's exit): ${imp.toFixed(1)} s = ${(imp / floorSec).toFixed(2)} × the floor (target ≤ 1.15).`, '');
    return rows;
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
  // An engine left out of this run keeps its section from the last run, saying so.
  const previous = fs.existsSync(path.join(results, 'restore.md')) ? fs.readFileSync(path.join(results, 'restore.md'), 'utf8') : '';
  const when = /^(\d{4}-\d\d-\d\dT[^,]*)/m.exec(previous)?.[1] ?? 'an earlier run';
  for (const [engine, title] of [['postgres', 'PostgreSQL'], ['mariadb', 'MariaDB']]) {
    const kept = new RegExp(`^### ${title} [\\s\\S]*?(?=^### |(?![\\s\\S]))`, 'm').exec(previous)?.[0];
    // A section kept twice says the run it came from once.
    if (!ENGINES.includes(engine) && kept) out.push(kept.replace(/\n*$/, '').replace(/^(### (?:(?!, from ).)*)$/m, `$1, from ${when}`), '');
  }
  fs.writeFileSync(path.join(results, 'restore.md'), out.join('\n'));
  process.stdout.write(out.join('\n'));
}

void main().catch((err: Error) => { process.stderr.write(`${err.stack ?? err.message}\n`); process.exit(1); });
