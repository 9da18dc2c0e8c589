// Unit tier for the receiver's restore and archive helpers: the line filter at every chunk
// boundary, what the MariaDB filter drops, archive names and retention, and flag validation.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { LineFilter } from '../receiver/restore/line-filter';
import { mariadbDumpJudge } from '../receiver/restore/mariadb/dump-filter';
import { ArchiveSink, archiveTimestamp } from '../receiver/sinks/archive-sink';
import { parseReceiveOptions } from '../src/options';
import { tempDir } from './helpers/dbcast';

const DUMP = [
  '-- MariaDB dump 10.19',
  '/*!40000 DROP DATABASE IF EXISTS `app`*/;',
  'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `app` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;',
  'USE `app`;',
  "CHANGE MASTER TO MASTER_LOG_FILE='bin.000042', MASTER_LOG_POS=1234;",
  "SET GLOBAL gtid_slave_pos='0-1-77';",
  `INSERT INTO t VALUES ${'(1,\'USE `other`;\'),'.repeat(400)}(2,'x');`,
  '-- USE `commented`; stays a comment',
  'SELECT 1;',
].join('\n') + '\n';

function filterInChunks(input: Buffer, chunk: number, strip: boolean): { out: string; failure: string | null } {
  const f = new LineFilter(mariadbDumpJudge(strip));
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(...f.push(input.subarray(i, i + chunk)));
  parts.push(...f.end());
  return { out: Buffer.concat(parts).toString('utf8'), failure: f.failure };
}

t.test('the MariaDB filter drops database and (when asked) replication lines, at any chunk size', async (t) => {
  const input = Buffer.from(DUMP);
  const expected = DUMP.split('\n').filter((l) => !/^(\/\*!40000 DROP|CREATE DATABASE|USE `app`|CHANGE MASTER|SET GLOBAL)/.test(l)).join('\n');
  const kept = DUMP.split('\n').filter((l) => !/^(\/\*!40000 DROP|CREATE DATABASE|USE `app`)/.test(l)).join('\n');
  for (const chunk of [1, 2, 3, 7, 64, 127, 128, 129, 1000, input.length]) {
    t.same(filterInChunks(input, chunk, true), { out: expected, failure: null }, `strip, chunks of ${chunk}`);
    t.same(filterInChunks(input, chunk, false), { out: kept, failure: null }, `keep replication lines, chunks of ${chunk}`);
  }
});

t.test('a dump with two databases fails instead of writing into the second', async (t) => {
  const r = filterInChunks(Buffer.from('USE `a`;\nSELECT 1;\nUSE `b`;\nDROP TABLE x;\n'), 5, false);
  t.match(r.failure, /more than one database \(a, b\)/);
  t.notMatch(r.out, /DROP TABLE/, 'nothing after the second USE passes');
});

t.test('a last line without a newline is judged and passed', async (t) => {
  t.same(filterInChunks(Buffer.from('SELECT 1;\nUSE `a`;'), 4, false).out, 'SELECT 1;\n');
  t.same(filterInChunks(Buffer.from('SELECT 1;\nSELECT 2;'), 4, false).out, 'SELECT 1;\nSELECT 2;');
});

t.test('archive: timestamped names, .sha256 beside, retention keeps the newest N of our own files', async (t) => {
  const dir = tempDir(t);
  t.equal(archiveTimestamp(new Date('2026-11-23T01:48:42.123Z')), '20261123T014842Z');
  fs.writeFileSync(path.join(dir, 'unrelated.dump'), 'keep me');
  fs.writeFileSync(path.join(dir, 'app-other-20200101T000000Z.dump'), 'another job');
  const sums: string[] = [];
  for (let day = 1; day <= 4; day++) {
    const sink = new ArchiveSink({ dir, template: '{job}-{timestamp}.dump', keep: 2 }, { job: 'app', name: 'r1' }, new Date(`2026-11-0${day}T03:00:00Z`));
    sink.write(Buffer.from(`dump of day ${day}\n`));
    t.equal(await sink.finish({ sha256: `${day}`.repeat(64), bytes: 16 }), null);
    sums.push(`app-2026110${day}T030000Z.dump`);
  }
  t.same(fs.readdirSync(dir).sort(), [
    'app-20261103T030000Z.dump', 'app-20261103T030000Z.dump.sha256', 'app-20261104T030000Z.dump', 'app-20261104T030000Z.dump.sha256',
    'app-other-20200101T000000Z.dump', 'unrelated.dump',
  ]);
  t.equal(fs.readFileSync(path.join(dir, 'app-20261104T030000Z.dump.sha256'), 'utf8'), `${'4'.repeat(64)}  app-20261104T030000Z.dump\n`);
  const again = new ArchiveSink({ dir, template: '{job}-{timestamp}.dump', keep: 2 }, { job: 'app', name: 'r1' }, new Date('2026-11-04T03:00:00Z'));
  const failure = await again.finish({ sha256: '0'.repeat(64), bytes: 0 });
  t.match(failure?.message, /already exists/, 'an archive is never overwritten');
  t.equal(fs.readFileSync(path.join(dir, 'app-20261104T030000Z.dump'), 'utf8'), 'dump of day 4\n');
});

t.test('restore and archive flags: bad values exit 2 naming the flag', async (t) => {
  const dir = tempDir(t);
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ restore: 'oracle', database: 'x' }, 'restore'],
    [{ restore: 'postgres' }, 'database'],
    [{ restore: 'postgres', database: 'a;drop' }, 'database'],
    [{ restore: 'postgres', database: 'x'.repeat(60) }, 'database'],
    [{ database: 'x' }, 'database'],
    [{ restore: 'postgres', database: 'x', 'strip-replication': true }, 'strip-replication'],
    [{ restore: 'mariadb', database: 'x', jobs: '65' }, 'jobs'],
    [{ restore: 'postgres', database: 'x', jobs: '0' }, 'jobs'],
    [{ restore: 'postgres', database: 'x', 'db-port': 'http' }, 'db-port'],
    [{ restore: 'postgres', database: 'x', 'restore-arg': ['app'] }, 'restore-arg'],
    [{ restore: 'postgres', database: 'x', 'restore-arg': ['--dbname=live'] }, 'restore-arg'],
    [{ restore: 'postgres', database: 'x', 'restore-arg': ['-dlive'] }, 'restore-arg'],
    [{ restore: 'postgres', database: 'x', 'restore-arg': ['--clean'] }, 'restore-arg'],
    [{ restore: 'mariadb', database: 'x', 'restore-arg': ['--database=live'] }, 'restore-arg'],
    [{ output: path.join(dir, 'a.dump'), keep: '3' }, 'keep'],
    [{ output: path.join(dir, '{job}.dump'), keep: '3' }, 'keep'],
    [{ output: path.join(dir, '{when}.dump') }, 'output'],
    [{ output: path.join(dir, '{job'), keep: '1' }, 'output'],
    [{ keep: '2' }, 'keep'],
  ];
  for (const [raw, key] of bad) {
    t.throws(() => parseReceiveOptions(raw), { code: 'E_USAGE', key }, `${JSON.stringify(raw)} names --${key}`);
  }
  const ok = parseReceiveOptions({ output: dir, keep: '7', restore: 'postgres', database: 'app', jobs: '4', 'restore-arg': ['--no-owner', '-x'] });
  t.same(ok.archive, { dir, template: '{job}-{timestamp}.dump', keep: 7 });
  t.same([ok.restore?.database, ok.restore?.jobs, ok.restore?.restoreArgs, ok.stdout], ['app', 4, ['--no-owner', '-x'], false]);
  t.equal(parseReceiveOptions({ restore: 'postgres', database: 'app' }).restore?.jobs, 'auto', '--jobs defaults to auto');
});
