// `dbcast check` against a real PostgreSQL server (test/db/servers.ts; run under the tests'
// lock): a bad database login is CRITICAL naming the job and the server's message, a good one
// is not; a missing program and an absent interface are CRITICAL; exit codes are the
// monitoring plugins'. `dbcast check-config` validates a config for another host (with a
// warning), and every shipped example as written.
import t from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { programOf } from '../src/check';
import { BIN, tempDir } from './helpers/dbcast';
import { postgresMissing, startPostgres, type Server } from './db/servers';

const ROOT = path.join(__dirname, '..');

function cli(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The check lines of one state. */
const linesOf = (stdout: string, state: string): string[] => stdout.split('\n').filter((l) => l.startsWith(`${state} `));

t.test('check-config: every shipped example passes as written', async (t) => {
  const dir = path.join(ROOT, 'systemd', 'examples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 3, 'the examples are there');
  for (const f of files) {
    const r = cli(['check-config', path.join(dir, f)]);
    t.equal(r.code, 0, `${f}: ${r.stderr}`);
    t.match(r.stdout, /: ok, \d+ job\(s\)/, f);
  }
});

t.test('check-config: a config for another host', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, body: string): string => { fs.writeFileSync(path.join(dir, name), body); return path.join(dir, name); };
  const job = (extra: string): string => `state-dir: ${dir}\njobs:\n  - role: send\n    job: app\n    schedule: "0 2 * * *"\n    command: pg_dump app\n${extra}`;
  const absent = write('absent.yaml', job('    interface: dbcastnone0\n    key-file: /nonexistent/key\n'));
  const auto = cli(['check-config', absent]);
  t.equal(auto.code, 0, 'an interface this host lacks: valid, for another host');
  t.match(auto.stderr, /warning: interface dbcastnone0 is not on this host: validated as a config for another host/);

  const here = write('here.yaml', job('    interface: 127.0.0.1\n    key-file: /nonexistent/key\n'));
  const strict = cli(['check-config', '--config', here]);
  t.equal(strict.code, 2, 'for this host: the key file must be readable here');
  t.match(strict.stderr, /jobs\[0\]\.key-file: .*\/nonexistent\/key/);
  t.equal(cli(['check-config', here, '--host-independent']).code, 0, '--host-independent leaves the key file to its host');

  const bad = write('bad.yaml', job('    interface: 127.0.0.1\n    max-rate-mbps: fast\n'));
  const b = cli(['check-config', bad, '--host-independent']);
  t.equal(b.code, 2, 'everything else is still checked');
  t.match(b.stderr, /line 8: jobs\[0\]\.max-rate-mbps/);
  const typo = write('typo.yaml', job('    interface: 127.0.0.1\n    catch-up: yes please\n'));
  t.match(cli(['check-config', typo]).stderr, /jobs\[0\]\.catch-up: expected true or false/);
});

t.test('programOf: the program a command line starts', async (t) => {
  t.equal(programOf('pg_dump -Fc app'), 'pg_dump');
  t.equal(programOf('PGOPTIONS=-c PGUSER=x /usr/bin/pg_dump app'), '/usr/bin/pg_dump');
  t.equal(programOf('(cd /x && tar c .)'), null, 'shell syntax: not checked');
});

function run(): void {
  let pg: Server;
  let dir: string;
  let config: string;
  t.before(() => { pg = startPostgres(); });
  t.teardown(() => pg?.stop());

  t.beforeEach((t) => {
    dir = tempDir(t);
    const restore = (job: string, user: string): string => `  - role: receive
    job: ${job}
    restore: postgres
    database: app
    db-host: ${pg.host}
    db-port: ${pg.port}
    db-user: ${user}
    spool-dir: ${dir}
`;
    config = path.join(dir, 'dbcast.yaml');
    fs.writeFileSync(config, `state-dir: ${dir}/state\ntimezone: Europe/Berlin\ndefaults:\n  interface: 127.0.0.1\n  group: 239.255.42.15\njobs:
${restore('good', pg.user)}${restore('badlogin', 'dbcast_no_such_role')}  - role: send
    job: dump
    schedule: "0 2 * * *"
    command: dbcast-no-such-tool -Fc app
  - role: receive
    job: elsewhere
    interface: dbcastnone0
    output: ${dir}
  - role: receive
    job: otheraddress
    interface: 192.0.2.1
    output: ${dir}
`);
  });

  t.test('a bad login is CRITICAL with the server\'s message; the others are judged on their own', async (t) => {
    const r = cli(['check', '--config', config]);
    t.equal(r.code, 2, 'exit 2: CRITICAL');
    t.match(r.stdout.split('\n')[0], /^DBCAST CHECK CRITICAL: 4 critical/, 'the summary first (what a monitoring system shows)');
    const critical = linesOf(r.stdout, 'CRITICAL');
    t.match(critical.join('\n'), /receive job badlogin: restore postgres preflight: cannot reach PostgreSQL: .*role "dbcast_no_such_role" does not exist/);
    t.match(critical.join('\n'), /send job dump: command: dbcast-no-such-tool not found/);
    t.match(critical.join('\n'), /receive job elsewhere: interface: .*dbcastnone0/);
    t.match(critical.join('\n'), /receive job otheraddress: interface: expected an address of this host .*192\.0\.2\.1/, 'an address this host lacks');
    t.equal(critical.length, 4, critical.join('\n'));
    t.match(linesOf(r.stdout, 'OK').join('\n'), /receive job good: restore postgres preflight: pg_restore \d+, server \d+, as postgres/);
    t.match(r.stdout, /send job dump: next run \S+ \(\d{4}-\d\d-\d\d 02:00 Europe\/Berlin\)/);
    t.match(r.stdout, /receive job good: schedule: none, listens/);
  });

  t.test('one job: only its lines; WARNING exits 1', async (t) => {
    const r = cli(['check', 'good', '--config', config]);
    t.notMatch(r.stdout, /job (badlogin|dump|elsewhere|otheraddress)/);
    t.equal(linesOf(r.stdout, 'CRITICAL').length, 0);
    // A superuser restore is a warning (and an unknown clock sync, on a host without timesyncd).
    t.match(linesOf(r.stdout, 'WARNING').join('\n'), /receive job good: restore postgres: pg_restore runs as the superuser/);
    t.equal(r.code, 1, 'exit 1: WARNING');
  });

  t.test('the restore tools missing from PATH: the preset\'s preflight says so', async (t) => {
    const r = cli(['check', 'good', '--config', config], { ...process.env, PATH: path.join(dir, 'empty-bin') });
    t.equal(r.code, 2);
    t.match(linesOf(r.stdout, 'CRITICAL').join('\n'), /receive job good: restore postgres preflight: pg_restore is not usable/);
  });

  t.test('unknown job: UNKNOWN (3); a broken config: CRITICAL (2)', async (t) => {
    const u = cli(['check', 'nosuch', '--config', config]);
    t.equal(u.code, 3);
    t.match(u.stdout, /UNKNOWN +config: no job named nosuch .*; its jobs: good, badlogin, dump, elsewhere, otheraddress/);
    fs.appendFileSync(config, '    bogus-key: 1\n');
    const b = cli(['check', '--config', config]);
    t.equal(b.code, 2);
    t.match(b.stdout, /CRITICAL config: .*jobs\[4\]\.bogus-key: unknown key/);
    t.equal(cli(['check', '--config', path.join(dir, 'nope.yaml')]).code, 3, 'an unreadable config: UNKNOWN');
  });
}

const missing = postgresMissing();
if (missing) {
  if (process.env.CI) t.fail(`PostgreSQL tests must run in CI: ${missing}`);
  else t.comment(`dbcast check against PostgreSQL skipped: ${missing}`);
} else {
  run();
}
