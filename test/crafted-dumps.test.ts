// Crafted dumps against the restore presets, on real servers: a forged stream (an END whose
// SHA-256 does not match, as a keyless attacker on the segment could send) must leave no trace
// at all; a stream that verifies but carries hostile statements is stopped by what the preset
// arranges (strict CREATE DATABASE grammar, the client's --sandbox, a --restore-user whose
// rights cover only the staging database). Each case checks the server for the attack's
// effect: a marker file, a row or table in another database, a new account.
import t, { type Test } from 'tap';
import { execSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { dbcast, tempDir } from './helpers/dbcast';
import { lyingSend } from './helpers/lying-sender';
import { createDatabaseStatement, replaceTocString } from './helpers/pg-archive';
import { mariadbMissing, postgresMissing, startMariadb, startPostgres, type Server } from './db/servers';

const GROUP = '239.255.42.12';
const net = (port: number, job: string): string[] => ['--interface', '127.0.0.1', '--group', GROUP, '--port', String(port), '--job', job];

interface Outcome { code: number | null; stderr: string; senderCode: number | null }

/** One receiver, one transfer of `dump`: honest (`dbcast send`) or with a lying END. */
async function transfer(port: number, job: string, dump: Buffer, receiveArgs: string[], lying: boolean, dir: string, env?: NodeJS.ProcessEnv): Promise<Outcome> {
  const rx = dbcast(['receive', ...net(port, job), '--name', 'victim', '--idle-timeout-sec', '5', ...receiveArgs], { timeoutMs: 120_000, env });
  await rx.stderrMatch(/listening for job/);
  let senderCode: number | null = null;
  if (lying) {
    await lyingSend({ group: GROUP, port, job, minReceivers: 1, input: dump });
  } else {
    const file = path.join(dir, `${job}.dump`);
    fs.writeFileSync(file, dump);
    senderCode = (await dbcast(['send', ...net(port, job), '--min-receivers', '1', '--max-wait-sec', '30'], { stdinFile: file, timeoutMs: 120_000 }).done).code;
  }
  const r = await rx.done;
  return { code: r.code, stderr: r.stderr, senderCode };
}

function postgresCases(): void {
  let pg: Server;
  let archive: Buffer;
  const conn = (): string[] => ['--restore', 'postgres', '--database', 'live', '--db-host', pg.host, '--db-port', String(pg.port), '--db-user', pg.user];
  const liveRows = (): string => pg.sql('live', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM t').trim();
  const noStaging = (t: Test): void => { t.notOk(pg.sql('postgres', "SELECT 1 FROM pg_database WHERE datname = 'live__incoming'").trim(), 'no staging database left'); };

  t.before(() => {
    pg = startPostgres();
    pg.sql('postgres', 'CREATE DATABASE src; CREATE DATABASE live; CREATE ROLE restorer LOGIN NOSUPERUSER');
    pg.sql('src', 'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g;');
    pg.sql('live', 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3);');
    // Written to a pipe, as `dbcast send --command "pg_dump -Fc"` does: no data offsets.
    archive = execSync(`pg_dump -h ${pg.host} -p ${pg.port} -U ${pg.user} -Fc src | cat`, { maxBuffer: 64 << 20 });
  });
  t.teardown(() => pg?.stop());

  /** The archive's CREATE DATABASE line with a second statement after it (pasted into SQL before this change). */
  const splicedTail = (marker: string): Buffer => {
    const stmt = createDatabaseStatement(archive);
    return replaceTocString(archive, stmt, stmt.replace(/;\n$/, `; COPY (SELECT 1) TO PROGRAM 'touch ${marker}';\n`));
  };
  /** A table's definition that also runs a shell command on the server (superusers may). */
  const programInToc = (marker: string): Buffer => {
    const create = 'CREATE TABLE public.t (\n    id integer NOT NULL,\n    v text\n);\n';
    return replaceTocString(archive, create, `${create}COPY (SELECT 1) TO PROGRAM 'touch ${marker}';\n`);
  };

  t.test('postgres: a spliced CREATE DATABASE tail is refused, verified or not, streamed or spooled', async (t) => {
    const dir = tempDir(t); fs.chmodSync(dir, 0o1777); // the server (user postgres) would write the marker here
    const cases: Array<[string, string[], boolean]> = [
      ['verified, spooled', [], false],
      ['lying END, --restore-while-receiving', ['--restore-while-receiving'], true],
      ['lying END, spooled', [], true],
    ];
    for (const [i, [label, extra, lying]] of cases.entries()) {
      const marker = path.join(dir, `splice-${i}`);
      const r = await transfer(9761 + i, `splice${i}`, splicedTail(marker), [...conn(), '--spool-dir', dir, ...extra], lying, dir);
      t.equal(r.code, lying ? 6 : 7, `${label}: receiver exit ${lying ? 6 : 7}`, { stderr: r.stderr });
      if (!lying) t.match(r.stderr, /CREATE DATABASE statement was refused/, `${label}: the reason is given`);
      t.notOk(fs.existsSync(marker), `${label}: the second statement never ran`);
      t.equal(liveRows(), '1,2,3', `${label}: live database untouched`);
      noStaging(t);
    }
  });

  t.test('postgres: a shell command in the TOC never runs unverified, and not as a --restore-user', async (t) => {
    const dir = tempDir(t); fs.chmodSync(dir, 0o1777);
    const m1 = path.join(dir, 'lying');
    const r1 = await transfer(9765, 'toc1', programInToc(m1), [...conn(), '--spool-dir', dir], true, dir);
    t.equal(r1.code, 6, 'lying END: receiver exit 6', { stderr: r1.stderr });
    t.notOk(fs.existsSync(m1), 'lying END: nothing from the spool reached the server');
    const m2 = path.join(dir, 'verified');
    const r2 = await transfer(9766, 'toc2', programInToc(m2), [...conn(), '--spool-dir', dir, '--restore-user', 'restorer', '--restore-arg=--no-owner'], false, dir);
    t.equal(r2.code, 7, 'verified, as a non-superuser: the restore fails (exit 7)', { stderr: r2.stderr });
    t.match(r2.stderr, /pg_restore exited with status 1: .*TO PROGRAM/s, 'pg_restore stopped at the program statement');
    t.notOk(fs.existsSync(m2), 'verified, as a non-superuser: the command did not run');
    t.equal(liveRows(), '1,2,3', 'live database untouched');
    noStaging(t);
  });

  t.test('postgres: an honest dump restores as a --restore-user that owns the staging database', async (t) => {
    const dir = tempDir(t);
    const r = await transfer(9767, 'asrole', archive, [...conn(), '--spool-dir', dir, '--restore-user', 'restorer', '--restore-arg=--no-owner', '--restore-arg=--no-privileges'], false, dir);
    t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
    t.equal(r.senderCode, 0, 'sender exit 0');
    t.equal(pg.sql('live', 'SELECT count(*) FROM t').trim(), '1000', 'the new contents are live');
    t.equal(pg.sql('live', "SELECT tableowner FROM pg_tables WHERE tablename = 't'").trim(), 'restorer', 'restored by the role, not the superuser');
    pg.sql('postgres', 'DROP DATABASE live; ALTER DATABASE live__previous RENAME TO live');
  });

  t.test('postgres: a superuser --restore-user is refused at preflight', async (t) => {
    const r = dbcast(['receive', ...net(9768, 'super'), '--name', 'x', '--start-timeout-sec', '3', ...conn(), '--restore-user', 'postgres']);
    await r.stderrMatch(/is a superuser/).catch(() => undefined); // then stop it; the assertion reads all it said
    r.child.kill('SIGTERM');
    const { stderr } = await r.done;
    t.match(stderr, /preflight: --restore-user postgres is a superuser/, 'refused at preflight');
  });
}

function mariadbCases(): void {
  let my: Server;
  let home: string;
  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: home });
  const conn = (): string[] => ['--restore', 'mariadb', '--database', 'shop', '--db-host', my.host, '--db-user', my.user];
  const base = 'CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n';
  const attacks = (marker: string): Record<string, string> => ({
    // Mid-line, where a line filter cannot see it: the client's --sandbox must refuse it.
    'shell escape': `${base}INSERT INTO t VALUES (2); \\! touch ${marker}-bang\n`,
    'shell command line': `${base}system touch ${marker}-system\n`,
    'write to another schema': `${base}INSERT INTO other.victim VALUES (666);\nDROP TABLE other.victim2;\n`,
    'write to the grant tables': `${base}CREATE USER 'evil'@'%';\nGRANT ALL ON *.* TO 'evil'@'%';\n`,
    'unquoted USE': `${base}USE other;\nDROP TABLE victim3;\n`,
  });
  const noTrace = (t: Test, label: string, marker: string): void => {
    t.notOk(fs.existsSync(`${marker}-bang`) || fs.existsSync(`${marker}-system`), `${label}: no shell command ran`);
    t.equal(my.sql('other', 'SELECT GROUP_CONCAT(id ORDER BY id) FROM victim').trim(), '1', `${label}: other.victim unchanged`);
    t.equal(my.sql('other', 'SHOW TABLES').trim().split('\n').sort().join(','), 'victim,victim2,victim3', `${label}: no table dropped in other`);
    t.equal(my.sql('', "SELECT COUNT(*) FROM mysql.user WHERE User = 'evil'").trim(), '0', `${label}: no account created`);
    t.equal(my.sql('shop', 'SELECT GROUP_CONCAT(x) FROM live_marker').trim(), '7', `${label}: live schema untouched`);
    t.notOk(my.sql('', 'SHOW DATABASES').split('\n').includes('shop__incoming'), `${label}: no staging schema left`);
  };

  t.before(async () => {
    my = await startMariadb();
    my.sql('', 'CREATE DATABASE other; CREATE DATABASE shop');
    my.sql('other', 'CREATE TABLE victim (id INT); INSERT INTO victim VALUES (1); CREATE TABLE victim2 (id INT); CREATE TABLE victim3 (id INT)');
    my.sql('shop', 'CREATE TABLE live_marker (x INT); INSERT INTO live_marker VALUES (7)');
    // The import account: rights on the staging schema only; its password where the README says.
    my.sql('', "CREATE USER 'dbr'@'localhost' IDENTIFIED BY 'import-pw'; GRANT ALL ON `shop\\_\\_incoming`.* TO 'dbr'@'localhost'");
    home = fs.mkdtempSync('/tmp/dbcast-home-');
    fs.writeFileSync(path.join(home, '.my.cnf'), '[client_dbcast_restore]\npassword=import-pw\n', { mode: 0o600 });
  });
  t.teardown(() => { my?.stop(); fs.rmSync(home, { recursive: true, force: true }); });

  t.test('mariadb: forged dumps (lying END) leave no trace, spooled as root or streamed as --restore-user', async (t) => {
    const dir = tempDir(t);
    let port = 9771;
    for (const [mode, extra] of [['spooled, as root', []], ['while receiving, as --restore-user', ['--restore-while-receiving', '--restore-user', 'dbr']]] as Array<[string, string[]]>) {
      for (const [attack, sql] of Object.entries(attacks(path.join(dir, `m${port}`)))) {
        const label = `${attack} (${mode})`;
        const r = await transfer(port, `forged${port}`, Buffer.from(sql), [...conn(), '--spool-dir', dir, ...extra], true, dir, env());
        t.equal(r.code, 6, `${label}: receiver exit 6`, { stderr: r.stderr });
        noTrace(t, label, path.join(dir, `m${port}`));
        port++;
      }
    }
  });

  t.test('mariadb: verified hostile dumps are stopped by --sandbox and --restore-user', async (t) => {
    const dir = tempDir(t);
    let port = 9781;
    for (const [attack, sql] of Object.entries(attacks(path.join(dir, `v${port}`)))) {
      // Shell escapes are stopped as root too (--sandbox, the filter); the rest by the import account.
      const extra = attack.startsWith('shell') ? [] : ['--restore-user', 'dbr'];
      const r = await transfer(port, `verified${port}`, Buffer.from(sql), [...conn(), '--spool-dir', dir, ...extra], false, dir, env());
      t.equal(r.code, 7, `${attack}: the restore fails (exit 7)`, { stderr: r.stderr });
      t.equal(r.senderCode, 4, `${attack}: the sender reports the failed receiver`);
      noTrace(t, attack, path.join(dir, `v${port}`));
      port++;
    }
    t.match(my.sql('', 'SELECT 1').trim(), '1');
  });

  t.test('mariadb: an honest dump restores as --restore-user; an account with more rights is refused', async (t) => {
    const dir = tempDir(t);
    const dump = Buffer.from('CREATE TABLE t (id INT PRIMARY KEY, v TEXT);\nINSERT INTO t VALUES (1,\'a\'),(2,\'b\');\n');
    const r = await transfer(9791, 'honest', dump, [...conn(), '--spool-dir', dir, '--restore-user', 'dbr'], false, dir, env());
    t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
    t.equal(my.sql('shop', 'SELECT GROUP_CONCAT(v ORDER BY id) FROM t').trim(), 'a,b', 'restored');
    t.match(r.stderr, /importing as dbr/, 'the preflight says who imports');
    t.match(r.stderr, /--sandbox/, 'and that the client runs sandboxed');
    // Put the live schema back for the other cases' checks.
    my.sql('', 'DROP DATABASE shop; CREATE DATABASE shop');
    my.sql('shop', 'CREATE TABLE live_marker (x INT); INSERT INTO live_marker VALUES (7)');
    my.sql('', "CREATE USER 'broad'@'localhost' IDENTIFIED BY 'import-pw'; GRANT SELECT ON other.* TO 'broad'@'localhost'; GRANT ALL ON `shop\\_\\_incoming`.* TO 'broad'@'localhost'");
    const b = dbcast(['receive', ...net(9792, 'broad'), '--name', 'x', '--start-timeout-sec', '3', ...conn(), '--restore-user', 'broad'], { env: env() });
    await b.stderrMatch(/has rights beyond shop__incoming/);
    b.child.kill('SIGTERM');
    await b.done;
  });
}

const pgMissing = postgresMissing();
const myMissing = mariadbMissing();
for (const [name, missing, cases] of [['PostgreSQL', pgMissing, postgresCases], ['MariaDB', myMissing, mariadbCases]] as const) {
  if (missing) {
    if (process.env.CI) t.fail(`${name} crafted-dump tests must run in CI: ${missing}`);
    else t.comment(`${name} crafted-dump tests skipped: ${missing}`);
  } else {
    cases();
  }
}
