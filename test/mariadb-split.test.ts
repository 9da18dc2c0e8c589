// Unit tier for --restore mariadb --jobs: where a dump splits (split.ts), which coordinates it
// carries (coordinates.ts), and that the line filter treats the parts as it treats the whole.
// The headers and trailers in test/fixtures/mariadb-dump/ are what mariadb-dump 10.11 wrote
// with --master-data=2, --master-data=1 --gtid, --dump-slave=2 and --dump-slave=1 --gtid (the
// replica configured with CHANGE MASTER TO ... MASTER_LOG_FILE='primary-bin.000042').
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { LineFilter } from '../receiver/restore/line-filter';
import { describeCoordinates, parseCoordinates } from '../receiver/restore/mariadb/coordinates';
import { EndsCapture, END_BYTES, readEnds } from '../receiver/restore/mariadb/dump-ends';
import { mariadbDumpJudge } from '../receiver/restore/mariadb/dump-filter';
import { splitDump, type ByteRange, type DumpPlan } from '../receiver/restore/mariadb/split';
import { tempDir } from './helpers/dbcast';

const FIXTURES = path.join(__dirname, 'fixtures', 'mariadb-dump');
const fixture = (name: string): string => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const HEADER = fixture('master-data-2.header.sql');
const TRAILER = fixture('master-data-2.trailer.sql');

const q = (name: string): string => `\`${name.replace(/`/g, '``')}\``;
const block = (title: string): string => `--\n-- ${title}\n--\n\n`;
const structure = (name: string): string => `${block(`Table structure for table ${q(name)}`)}DROP TABLE IF EXISTS ${q(name)};\n/*!40101 SET @saved_cs_client     = @@character_set_client */;\nCREATE TABLE ${q(name)} (\n  \`id\` int(11) NOT NULL,\n  PRIMARY KEY (\`id\`)\n) ENGINE=InnoDB;\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n`;
const data = (name: string, rows: number, extra = ''): string => `${block(`Dumping data for table ${q(name)}`)}LOCK TABLES ${q(name)} WRITE;\n/*!40000 ALTER TABLE ${q(name)} DISABLE KEYS */;\nINSERT INTO ${q(name)} VALUES\n${Array.from({ length: rows }, (_, i) => `(${i + 1})`).join(',\n')};\n/*!40000 ALTER TABLE ${q(name)} ENABLE KEYS */;\nUNLOCK TABLES;\n${extra}\n`;
/** A trigger whose body holds a comment block that looks like a section: it must not split. */
const TRIGGER = "/*!50003 SET @saved_cs_client      = @@character_set_client */ ;\nDELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t_ai AFTER INSERT ON `t` FOR EACH ROW BEGIN\n--\n-- Table structure for table `fake`\n--\nSET @x = 1; END */;;\nDELIMITER ;\n/*!50003 SET character_set_client  = @saved_cs_client */ ;\n";
const standIn = (name: string): string => `${block(`Temporary table structure for view ${q(name)}`)}DROP TABLE IF EXISTS ${q(name)};\n/*!50001 DROP VIEW IF EXISTS ${q(name)}*/;\n/*!50001 CREATE VIEW ${q(name)} AS SELECT\n 1 AS \`id\` */;\n\n`;
const finalView = (name: string, body: string): string => `${block(`Final view structure for view ${q(name)}`)}/*!50001 DROP VIEW IF EXISTS ${q(name)}*/;\n/*!50001 CREATE ALGORITHM=UNDEFINED */\n/*!50001 VIEW ${q(name)} AS ${body} */;\n/*!50001 SET collation_connection      = @saved_col_connection */;\n\n`;
const ROUTINES = `${block("Dumping routines for database 'src'")}DELIMITER ;;\nCREATE PROCEDURE \`p\`()\nBEGIN\n--\n-- Dumping data for table \`nope\`\n--\nSELECT 1; END ;;\nDELIMITER ;\n/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n\n`;

const WEIRD = 'we ird`n ä 日本';

function write(dir: string, name: string, text: string | Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const slice = (buf: Buffer, r: ByteRange): string => buf.subarray(r.start, r.end).toString('utf8');
const allRanges = (p: DumpPlan): ByteRange[] => [...p.prologue, ...p.tables.map((x) => x.range), ...p.epilogue].sort((a, b) => a.start - b.start);

t.test('a full dump: schema first, each table\'s rows and triggers apart, then views and routines', async (t) => {
  const dir = tempDir(t);
  const text = HEADER + structure('t') + data('t', 3, TRIGGER) + standIn('v') + structure(WEIRD) + data(WEIRD, 2)
    + structure('u') + data('u', 5) + ROUTINES + finalView('v', 'select `id` from `t`') + TRAILER;
  const file = write(dir, 'd.sql', text);
  const r = await splitDump(file);
  if (!r.ok) throw new Error(r.reason);
  const buf = fs.readFileSync(file);
  const p = r.plan;
  t.same(p.tables.map((x) => x.name), ['t', WEIRD, 'u'], 'one part per data section, names unquoted (backticks, spaces, non-ASCII)');
  t.match(slice(buf, p.tables[0].range), /INSERT INTO `t`[\s\S]*TRIGGER t_ai[\s\S]*Table structure for table `fake`[\s\S]*DELIMITER ;\n/, 'a trigger stays after its table\'s rows, its body unsplit');
  t.equal(p.prologue.length, 5, 'header, three CREATE TABLEs, one view stand-in');
  t.match(slice(buf, p.prologue[0]), /^\/\*M!999999\\- enable the sandbox mode[\s\S]*CHANGE MASTER TO MASTER_LOG_FILE/);
  t.ok(p.prologue.slice(1).every((x) => /^--\n-- (Table|Temporary table) structure/.test(slice(buf, x))));
  t.match(slice(buf, p.epilogue[0]), /^--\n-- Dumping routines[\s\S]*Dumping data for table `nope`[\s\S]*END ;;/, 'a section title inside a routine body does not split it');
  t.match(slice(buf, p.epilogue[1]), /^--\n-- Final view structure for view `v`/);
  t.equal(slice(buf, p.epilogue[2]).trimStart(), TRAILER.trimStart(), 'the trailer is the last part');
  // Every byte is in exactly one part.
  const ranges = allRanges(p);
  t.equal(ranges[0].start, 0);
  t.equal(ranges[ranges.length - 1].end, buf.length);
  t.ok(ranges.every((x, i) => i === 0 || x.start === ranges[i - 1].end), 'parts are contiguous and disjoint');
  const settings = p.sessionSettings.toString();
  t.match(settings, /SET NAMES utf8mb4/);
  t.match(settings, /FOREIGN_KEY_CHECKS=0/);
  t.match(settings, /UNIQUE_CHECKS=0/);
  t.match(settings, /SQL_MODE='NO_AUTO_VALUE_ON_ZERO'/);
  t.match(settings, /enable the sandbox mode/);
  t.notMatch(settings, /CHANGE MASTER|^--/m, 'no replication statements or comments replayed');
  t.same(p.sessionRestore.toString().trim().split('\n'), TRAILER.split('\n').filter((l) => /=@OLD_/.test(l)), 'the trailer\'s restores');
});

t.test('the line filter keeps and drops the same lines in the parts as in the whole', async (t) => {
  const dir = tempDir(t);
  const sneaky = 'USE `src`;\nCREATE DATABASE IF NOT EXISTS `src`;\n';
  const text = HEADER.replace('-- CHANGE MASTER', 'CHANGE MASTER') + sneaky + structure('t') + data('t', 2, 'USE `src`;\n')
    + structure('u') + data('u', 2) + TRAILER.replace("-- SET GLOBAL", 'SET GLOBAL');
  const file = write(dir, 'd.sql', text);
  const r = await splitDump(file);
  if (!r.ok) throw new Error(r.reason);
  const buf = fs.readFileSync(file);
  const filtered = (parts: Buffer[], strip: boolean): { text: string; failure: string | null } => {
    const judge = mariadbDumpJudge(strip);
    let failure: string | null = null;
    const out = parts.map((b) => { const f = new LineFilter(judge); const s = Buffer.concat([...f.push(b), ...f.end()]).toString(); failure ??= f.failure; return s; });
    return { text: out.join(''), failure };
  };
  for (const strip of [false, true]) {
    const whole = filtered([buf], strip);
    const parts = filtered(allRanges(r.plan).map((x) => buf.subarray(x.start, x.end)), strip);
    t.equal(whole.failure, parts.failure, `same verdict (strip ${strip})`);
    t.equal(parts.text, whole.text, `same bytes kept (strip ${strip})`);
  }
  t.equal(filtered([buf], false).failure, null);
  t.equal((filtered([buf], false).text.match(/^(USE|CREATE DATABASE)/gm) ?? []).length, 0, 'the database lines are dropped');
  t.match(filtered([buf], false).text, /^CHANGE MASTER TO MASTER_LOG_FILE/m, 'replication kept without --strip-replication');
  t.notMatch(filtered([buf], true).text, /^(CHANGE MASTER|SET GLOBAL gtid_slave_pos)/m, 'and dropped with it');
  // The same refusal when the two names are in different parts (one judge for all of them).
  const other = write(dir, 'e.sql', HEADER + structure('t') + data('t', 1, 'USE `a`;\n') + structure('u') + data('u', 1, 'USE `b`;\n') + TRAILER);
  const r2 = await splitDump(other);
  if (!r2.ok) throw new Error(r2.reason);
  const b2 = fs.readFileSync(other);
  t.match(filtered(r2.plan.tables.map((x) => b2.subarray(x.range.start, x.range.end)), false).failure, /more than one database \(a, b\)/);
});

t.test('dumps without tables, views only, and layouts it does not know', async (t) => {
  const dir = tempDir(t);
  const empty = await splitDump(write(dir, 'empty.sql', HEADER + TRAILER));
  t.same(empty, { ok: false, reason: empty.ok ? '' : empty.reason }, 'no tables: not split');
  t.match(empty.ok ? '' : empty.reason, /no mariadb-dump section comments/, 'it is imported in one piece');

  const viewsOnly = await splitDump(write(dir, 'views.sql', HEADER + standIn('a') + standIn('b') + finalView('a', 'select 1 AS `id`') + finalView('b', 'select `id` from `a`') + TRAILER));
  if (!viewsOnly.ok) throw new Error(viewsOnly.reason);
  t.equal(viewsOnly.plan.tables.length, 0, 'views only: no table parts');
  t.equal(viewsOnly.plan.prologue.length, 3, 'the stand-ins go with the schema');
  t.equal(viewsOnly.plan.epilogue.length, 3, 'the final views and the trailer come last');

  const compact = await splitDump(write(dir, 'compact.sql', 'CREATE TABLE `t` (id int);\nINSERT INTO `t` VALUES (1);\n'));
  t.match(compact.ok ? '' : compact.reason, /--skip-comments or --compact/);

  const unknown = await splitDump(write(dir, 'unknown.sql', HEADER + structure('t') + data('t', 1) + block('Dumping packages for database \'src\'') + 'SELECT 1;\n' + TRAILER));
  t.match(unknown.ok ? '' : unknown.reason, /unknown section 'Dumping packages/, 'an unknown section after a table: not split');

  const open = await splitDump(write(dir, 'open.sql', HEADER + structure('t') + data('t', 1, 'DELIMITER ;;\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW SET @a = 1;;\n') + TRAILER));
  t.match(open.ok ? '' : open.reason, /DELIMITER block is not closed/);

  const noNewline = await splitDump(write(dir, 'nonl.sql', HEADER + structure('t') + data('t', 1) + TRAILER.trimEnd()));
  if (!noNewline.ok) throw new Error(noNewline.reason);
  t.match(fs.readFileSync(path.join(dir, 'nonl.sql')).subarray(noNewline.plan.epilogue[0].start).toString(), /^\n+-- The deferred gtid/, 'a last line without newline is still the trailer');
});

t.test('a section title across the 4 MiB read boundary is found', async (t) => {
  const dir = tempDir(t);
  const first = HEADER + structure('a') + block('Dumping data for table `a`') + 'INSERT INTO `a` VALUES\n';
  const title = '\n--\n-- Table structure for table `b`';
  const boundary = 4 << 20;
  for (const cut of [1, 3, 6, title.length - 1]) {
    // Pad so that `cut` bytes of the title's needle come before the boundary.
    const rowsBytes = boundary - cut - Buffer.byteLength(first) - 1;
    const rows = `(${'1'.repeat(rowsBytes - 3)}),`.slice(0, rowsBytes);
    const text = `${first}${rows};${title.slice(0, 1)}${title.slice(1)}\n--\n\nCREATE TABLE \`b\` (id int);\n\n${data('b', 1)}${TRAILER}`;
    const r = await splitDump(write(dir, `b${cut}.sql`, text));
    if (!r.ok) throw new Error(r.reason);
    t.same(r.plan.tables.map((x) => x.name), ['a', 'b'], `split with ${cut} bytes of the title before the boundary`);
    t.equal(r.plan.prologue.length, 3);
  }
});

t.test('coordinates in real mariadb-dump 10.11 headers and trailers', async (t) => {
  const c = (name: string) => parseCoordinates(fixture(`${name}.header.sql`) + fixture(`${name}.trailer.sql`));
  t.same(c('master-data-2'), { source: 'primary', list: [
    { form: 'binlog', value: 'binlog.000001:3226530', active: false },
    { form: 'gtid', value: '0-1-14', active: false },
  ] }, '--master-data=2: the source\'s own position, commented');
  t.same(c('master-data-1-gtid'), { source: 'primary', list: [
    { form: 'use-gtid', value: 'slave_pos', active: true },
    { form: 'binlog', value: 'binlog.000001:3226530', active: false },
    { form: 'gtid', value: '0-1-14', active: true },
  ] }, '--master-data=1 --gtid: MASTER_USE_GTID and gtid_slave_pos active, the file position commented');
  t.same(c('dump-slave-2'), { source: 'replica-source', list: [
    { form: 'binlog', value: 'primary-bin.000042:1234', active: false },
    { form: 'gtid', value: '0-7-99', active: false },
  ] }, '--dump-slave=2: the position in the replica\'s primary');
  t.same(c('dump-slave-1-gtid'), { source: 'replica-source', list: [
    { form: 'use-gtid', value: 'slave_pos', active: true },
    { form: 'binlog', value: 'primary-bin.000042:1234', active: false },
    { form: 'gtid', value: '0-7-99', active: true },
  ] });
  t.equal(describeCoordinates(c('master-data-1-gtid') as NonNullable<ReturnType<typeof c>>, true),
    "coordinates (the dumped server's own, --master-data): MASTER_USE_GTID=slave_pos (active, stripped), binlog binlog.000001:3226530 (commented), GTID 0-1-14 (active, stripped)");
  t.equal(describeCoordinates(c('dump-slave-2') as NonNullable<ReturnType<typeof c>>, false),
    'coordinates (of the primary the dumped replica follows, --dump-slave): binlog primary-bin.000042:1234 (commented), GTID 0-7-99 (commented)');
  t.equal(parseCoordinates(HEADER.replace(/.*CHANGE MASTER.*\n/g, '') + "-- SET GLOBAL gtid_slave_pos='';\n"), null, 'none, or an empty GTID (a dump-slave of a non-replica): nothing');
  t.same(parseCoordinates("CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='mysql-bin.000003', SOURCE_LOG_POS=157;\nSET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'abc:1-5';\n"),
    { source: 'primary', list: [{ form: 'binlog', value: 'mysql-bin.000003:157', active: true }, { form: 'gtid', value: 'abc:1-5', active: true }] }, 'MySQL\'s --source-data and GTID_PURGED');
  t.same(parseCoordinates("INSERT INTO t VALUES\n('CHANGE MASTER TO MASTER_LOG_FILE=''x'', MASTER_LOG_POS=1');\n"), null, 'only at the start of a line');
});

t.test('the dump\'s ends, read back from the spool or kept while streaming, are the same', async (t) => {
  const dir = tempDir(t);
  for (const size of [100, END_BYTES + 7, 2 * END_BYTES, 3 * END_BYTES + 12345]) {
    const buf = Buffer.alloc(size);
    for (let i = 0; i < size; i++) buf[i] = 97 + (i % 26);
    const file = write(dir, `e${size}`, buf);
    const cap = new EndsCapture();
    for (let i = 0; i < size; i += 1000 + (i % 7)) cap.push(buf.subarray(i, Math.min(size, i + 1000 + (i % 7))));
    const expected = size <= 2 * END_BYTES ? buf.toString() : `${buf.subarray(0, END_BYTES)}\n${buf.subarray(size - END_BYTES)}`;
    t.equal(readEnds(file), expected, `spool, ${size} bytes`);
    t.equal(cap.text().replace('\n', ''), expected.replace('\n', ''), `stream, ${size} bytes`);
  }
});

t.test('the client\'s message keeps its ERROR line, not the statement it echoes', async (t) => {
  const { clientMessage } = await import('../receiver/restore/mariadb/client');
  t.equal(clientMessage("(1,'SKU-1','x'), | (2,'SKU-2','y') | -------------- | ERROR 1062 (23000) at line 9: Duplicate entry '2' for key 'PRIMARY'"), "ERROR 1062 (23000) at line 9: Duplicate entry '2' for key 'PRIMARY'");
  t.equal(clientMessage('Killed'), 'Killed');
});
