// zstd in transport end to end on a real PostgreSQL server: a compressed `pg_dump -Fc` into
// --restore postgres (spooled and while receiving) and a compressed `pg_dump -Fp` into
// `--pipe psql` under /bin/sh; contents compared with the source. A crafted compressed stream
// with a corrupt frame and a matching SHA-256 restores nothing. Ports 9920-9929.
import t from 'tap';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, listening, tempDir } from './helpers/dbcast';
import { lyingSend } from './helpers/lying-sender';
import { postgresMissing, startPostgres, type Server } from './db/servers';
import { encodeZstdLength } from '../runtime/zstd-length';
import { encodeStreamInfo } from '../runtime/stream-info';

const GROUP = ['--interface', '127.0.0.1', '--group', '239.255.43.5'];

const SCHEMA = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text, created date);
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers(id), placed_at timestamptz, total numeric(12,2), note text);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 500;
INSERT INTO customers SELECT g, 'Kunde ' || g || ' Grüße', (ARRAY['Zürich','Kraków','São Paulo'])[1 + g % 3], date '2020-01-01' + g % 2000 FROM generate_series(1, 20000) g;
INSERT INTO orders SELECT g, 1 + g % 20000, timestamptz '2026-01-01' + g * interval '1 minute', (g % 100000) / 100.0, 'order ' || g || ' ' || md5(g::text) FROM generate_series(1, 300000) g;
`;

function fingerprint(pg: Server, db: string): string {
  return ['customers', 'orders'].map((tb) => pg.sql(db, `SELECT count(*) || '/' || md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) FROM ${tb} t`).trim()).join(' ') +
    ' ' + pg.sql(db, "SELECT string_agg(viewname, ',') FROM pg_views WHERE schemaname = 'public'").trim();
}

const missing = postgresMissing();
if (missing) {
  if (process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${missing}`);
  else t.plan(0, `skipped: ${missing}`);
} else run();

function run(): void {
  let pg: Server;
  let source = '';
  const conn = (): string[] => ['--db-host', pg.host, '--db-port', String(pg.port), '--db-user', pg.user];
  const dump = (format: string): string => `pg_dump -h ${pg.host} -p ${pg.port} -U ${pg.user} -F${format} src`;

  t.before(() => {
    pg = startPostgres();
    pg.sql('postgres', 'CREATE DATABASE src; CREATE DATABASE live; CREATE DATABASE plaincopy');
    pg.sql('src', SCHEMA);
    pg.sql('live', 'CREATE TABLE old_marker (x int); INSERT INTO old_marker VALUES (1)');
    source = fingerprint(pg, 'src');
  });
  t.teardown(() => pg?.stop());

  t.test('compressed pg_dump -Fc into --restore postgres (spooled, while receiving); -Fp into --pipe psql', async (t) => {
    const dir = tempDir(t);
    fs.chmodSync(dir, 0o1777);
    const receive = (port: number, job: string, name: string, extra: string[]) => dbcast(['receive', ...GROUP, '--port', String(port), '--job', job, '--name', name, '--idle-timeout-sec', '5', ...extra], { timeoutMs: 300_000 });
    const rx = [
      receive(9920, 'zfc', 'spooled', ['--restore', 'postgres', '--database', 'live', ...conn(), '--spool-dir', dir]),
      receive(9920, 'zfc', 'streaming', ['--restore', 'postgres', '--database', 'fresh', ...conn(), '--restore-while-receiving']),
    ];
    await listening(rx);
    const s = await dbcast(['send', ...GROUP, '--port', '9920', '--job', 'zfc', '--min-receivers', '2', '--max-wait-sec', '60', '--compress', 'zstd',
      '--command', dump('c'), '--report', path.join(dir, 'fc.json')], { timeoutMs: 300_000 }).done;
    const rs = await Promise.all(rx.map((r) => r.done));
    t.equal(s.code, 0, 'sender exit 0', { stderr: s.stderr });
    rs.forEach((r, i) => t.equal(r.code, 0, `receiver ${i + 1} exit 0`, { stderr: r.stderr }));
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'fc.json'), 'utf8'));
    t.same(report.receivers.map((x: { restore: string }) => x.restore).sort(), ['swapped', 'swapped'], 'both restores swapped');
    t.equal(fingerprint(pg, 'live'), source, 'live equals the source');
    t.equal(fingerprint(pg, 'fresh'), source, 'fresh equals the source');
    t.equal(pg.sql('live__previous', 'SELECT x FROM old_marker').trim(), '1', 'the old live kept as live__previous');
    t.notOk(fs.readdirSync(dir).some((f) => f.includes('spool') || f.includes('partial')), 'no spool left');

    // Plain SQL (pg_dump -Fp): the preset takes custom-format archives; psql takes this.
    const px = receive(9921, 'zfp', 'psql', ['--pipe', `psql -X -q -v ON_ERROR_STOP=1 -h ${pg.host} -p ${pg.port} -U ${pg.user} -d plaincopy > /dev/null`]);
    await listening([px]);
    const sp = await dbcast(['send', ...GROUP, '--port', '9921', '--job', 'zfp', '--min-receivers', '1', '--max-wait-sec', '60', '--compress', 'zstd',
      '--command', dump('p'), '--report', path.join(dir, 'fp.json')], { timeoutMs: 300_000 }).done;
    const pr = await px.done;
    t.equal(sp.code, 0, 'sender exit 0 (-Fp)', { stderr: sp.stderr });
    t.equal(pr.code, 0, 'psql receiver exit 0', { stderr: pr.stderr });
    const plainReport = JSON.parse(fs.readFileSync(path.join(dir, 'fp.json'), 'utf8'));
    const plainSize = execFileSync('sh', ['-c', `${dump('p')} | wc -c`]).toString().trim();
    t.ok(plainReport.totalBytes * 3 < Number(plainSize), `-Fp: ${plainReport.totalBytes} bytes sent for ${plainSize} of SQL`);
    t.equal(fingerprint(pg, 'plaincopy'), source, 'plaincopy (psql from the decompressed -Fp) equals the source');
  });

  t.test('a corrupt compressed frame, SHA-256 matching: exit 6, nothing restored, live untouched', async (t) => {
    const before = fingerprint(pg, 'live');
    const archive = execFileSync('sh', ['-c', dump('c')], { maxBuffer: 256 << 20 });
    const z = execFileSync('zstd', ['-q', '-c', '-1'], { input: archive, maxBuffer: 256 << 20 });
    z[z.length - 1] ^= 0x55; // the frame checksum
    const rx = [
      dbcast(['receive', ...GROUP, '--port', '9922', '--job', 'zbad', '--name', 'spooled', '--idle-timeout-sec', '5', '--restore', 'postgres', '--database', 'live', ...conn()]),
      dbcast(['receive', ...GROUP, '--port', '9922', '--job', 'zbad', '--name', 'streaming', '--idle-timeout-sec', '5', '--restore', 'postgres', '--database', 'other', ...conn(), '--restore-while-receiving']),
    ];
    await listening(rx);
    await lyingSend({ group: '239.255.43.5', port: 9922, job: 'zbad', minReceivers: 2, input: Buffer.concat([z, encodeZstdLength(archive.length)]), announceInfo: encodeStreamInfo({ compression: 'zstd' }), honestEnd: true });
    const rs = await Promise.all(rx.map((r) => r.done));
    rs.forEach((r, i) => {
      t.equal(r.code, 6, `receiver ${i + 1} exit 6`, { stderr: r.stderr });
      t.match(r.stderr, /hash-mismatch.*restore kept-old/, `receiver ${i + 1}: hash-mismatch, kept-old`);
    });
    t.equal(fingerprint(pg, 'live'), before, 'live untouched');
    const dbs = pg.sql('postgres', 'SELECT string_agg(datname, \',\') FROM pg_database').trim().split(',');
    t.notOk(dbs.includes('other'), 'no database "other" created');
    t.notOk(dbs.some((d) => d.endsWith('__incoming')), 'no staging database left');
  });
}
