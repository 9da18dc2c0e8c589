// Files no other local user can steer: temp files beside a dump, its .sha256 and a report are
// new files of ours (never a planted symlink or someone else's file), have exact modes whatever
// the umask, live only in directories others cannot swap names in, and archive names stay in
// their directory. Ownership cases need root (CI runs as root); elsewhere they skip, saying why.
import t, { type Test } from 'tap';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ArchiveSink } from '../receiver/sinks/archive-sink';
import { FileSink } from '../receiver/sinks/file-sink';
import { parseConfig } from '../src/config';
import { parseReceiveOptions } from '../src/options';
import { writeJsonFile } from '../runtime/report';
import {
  checkDirectory, checkOutputDirectory, createTempFile, DUMP_FILE_MODE, PRIVATE_FILE_MODE, SafeFileError, TEMP_FILE_FLAGS, writeFileAtomic, writeFileAtomicAsync,
} from '../runtime/safe-file';
import { BIN, tempDir } from './helpers/dbcast';

const MY_UID = process.getuid?.() ?? -1;
const IS_ROOT = MY_UID === 0;
// In CI these must run: not being root there is a failure, not a reason to skip.
const NEEDS_ROOT = IS_ROOT || process.env.CI ? false : 'not root: cannot chown a planted file to another user (CI runs this as root)';
const NOBODY_UID = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim() || 65534);
const ORIGINAL = 'the victim file, untouched\n';
const NOW = new Date('2026-11-01T03:00:00Z');
const ARCHIVE_NAME = 'app-20261101T030000Z.dump';
const TEMP_NAME = /^\.out\.dump\.[0-9a-f]{12}\.partial$/;

const modeOf = (f: string): number => fs.lstatSync(f).mode & 0o7777;
const partials = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.partial')).sort();

function withUmask<T>(mask: number, fn: () => T): T {
  const old = process.umask(mask);
  try { return fn(); } finally { process.umask(old); }
}

/** A file someone wants overwritten (say /etc/shadow), with known content and mode. */
function victim(dir: string): string {
  const f = path.join(dir, 'victim');
  fs.writeFileSync(f, ORIGINAL);
  fs.chmodSync(f, 0o644);
  return f;
}

function assertUntouched(t: Test, file: string): void {
  t.equal(fs.readFileSync(file, 'utf8'), ORIGINAL, `${path.basename(file)}: content unchanged`);
  t.equal(modeOf(file), 0o644, `${path.basename(file)}: mode unchanged`);
}

async function writeThrough(sink: FileSink, data: string): Promise<string | null> {
  sink.write(Buffer.from(data));
  const failure = await sink.finish({ sha256: 'a'.repeat(64), bytes: data.length });
  return failure?.message ?? null;
}

t.test('FileSink: symlinks planted at the old FILE.partial and beside the final name are never followed', async (t) => {
  const dir = tempDir(t);
  const target = victim(dir);
  const absent = path.join(dir, 'created-through-a-symlink');
  const final = path.join(dir, 'out.dump');
  const planted = {
    [`${final}.partial`]: target, // the old predictable name
    [path.join(dir, 'out.dump.partial.tmp')]: target,
    [path.join(dir, '.out.dump.partial')]: absent,
    [path.join(dir, '.out.dump.000000000000.partial')]: target,
  };
  for (const [link, to] of Object.entries(planted)) fs.symlinkSync(to, link);
  t.equal(await writeThrough(new FileSink(final), 'the dump\n'), null, 'the sink finished');
  t.ok(fs.lstatSync(final).isFile(), 'the final name is a regular file');
  t.equal(fs.readFileSync(final, 'utf8'), 'the dump\n');
  assertUntouched(t, target);
  t.notOk(fs.existsSync(absent), 'nothing was created through a dangling symlink');
  for (const [link, to] of Object.entries(planted)) t.equal(fs.readlinkSync(link), to, `${path.basename(link)} is still the planted symlink`);
});

t.test('FileSink: a symlink at the final name is replaced, never written through', async (t) => {
  const dir = tempDir(t);
  const target = victim(dir);
  const final = path.join(dir, 'out.dump');
  fs.symlinkSync(target, final);
  t.equal(await writeThrough(new FileSink(final), 'the dump\n'), null);
  t.ok(fs.lstatSync(final).isFile(), 'the symlink was replaced by our file');
  t.equal(fs.readFileSync(final, 'utf8'), 'the dump\n');
  assertUntouched(t, target);
});

t.test('FileSink: abort removes only its own temp file', async (t) => {
  const dir = tempDir(t);
  const final = path.join(dir, 'out.dump');
  fs.writeFileSync(`${final}.partial`, 'someone else\'s file\n');
  const sink = new FileSink(final);
  sink.write(Buffer.from('half a dump'));
  t.equal(partials(dir).filter((f) => TEMP_NAME.test(f)).length, 1, 'the sink has its temp file');
  await sink.abort();
  t.same(partials(dir), ['out.dump.partial'], 'only our temp file is gone');
  t.equal(fs.readFileSync(`${final}.partial`, 'utf8'), 'someone else\'s file\n');
  t.notOk(fs.existsSync(final), 'no final file');
});

t.test('ArchiveSink: planted symlinks at the archive and .sha256 names are never followed', async (t) => {
  const dir = tempDir(t);
  const target = victim(dir);
  const absent = path.join(dir, 'created-through-a-symlink');
  const spec = { dir, template: '{job}-{timestamp}.dump', keep: 0 };
  const final = path.join(dir, ARCHIVE_NAME);
  fs.symlinkSync(target, `${final}.partial`);
  fs.symlinkSync(target, `${final}.sha256.partial`); // the old predictable .sha256 temp name
  fs.symlinkSync(absent, `${final}.sha256`);
  t.equal(await writeThrough(new ArchiveSink(spec, { job: 'app', name: 'r1' }, NOW), 'the dump\n'), null);
  t.equal(fs.readFileSync(final, 'utf8'), 'the dump\n');
  t.ok(fs.lstatSync(`${final}.sha256`).isFile(), '.sha256 is our file, not the planted symlink');
  t.equal(fs.readFileSync(`${final}.sha256`, 'utf8'), `${'a'.repeat(64)}  ${ARCHIVE_NAME}\n`);
  t.equal(modeOf(`${final}.sha256`), DUMP_FILE_MODE);
  assertUntouched(t, target);
  t.notOk(fs.existsSync(absent), 'nothing was created through a dangling symlink');
  t.same(partials(dir), [`${ARCHIVE_NAME}.partial`, `${ARCHIVE_NAME}.sha256.partial`], 'no temp file of ours left; the planted ones stay');

  // An archive is never replaced: a symlink at its name (even a dangling one) makes the sink fail.
  const later = new Date('2026-11-02T03:00:00Z');
  fs.symlinkSync(target, path.join(dir, 'app-20261102T030000Z.dump'));
  t.match(await writeThrough(new ArchiveSink(spec, { job: 'app', name: 'r1' }, later), 'x'), /already exists/);
  const latest = new Date('2026-11-03T03:00:00Z');
  fs.symlinkSync(absent, path.join(dir, 'app-20261103T030000Z.dump'));
  t.match(await writeThrough(new ArchiveSink(spec, { job: 'app', name: 'r1' }, latest), 'x'), /EEXIST/);
  assertUntouched(t, target);
  t.notOk(fs.existsSync(absent), 'nothing was created through a dangling symlink at the archive name');
});

t.test('the final file and temp files have exactly their mode under umask 0 and 077', async (t) => {
  for (const mask of [0, 0o077]) {
    const dir = tempDir(t);
    const final = path.join(dir, 'out.dump');
    const failure = await withUmask(mask, () => writeThrough(new FileSink(final), 'the dump\n'));
    t.equal(failure, null);
    t.equal(modeOf(final).toString(8), DUMP_FILE_MODE.toString(8), `dump mode under umask ${mask.toString(8)}`);
    t.equal(fs.statSync(final).uid, MY_UID, 'owned by this process\'s user');
    const spool = withUmask(mask, () => createTempFile(path.join(dir, 'spool'), PRIVATE_FILE_MODE));
    fs.closeSync(spool.fd);
    t.equal(modeOf(spool.path).toString(8), '600', `private temp file under umask ${mask.toString(8)}`);
    withUmask(mask, () => writeFileAtomic(path.join(dir, 'key'), 'k', PRIVATE_FILE_MODE));
    t.equal(modeOf(path.join(dir, 'key')).toString(8), '600');
    await withUmask(mask, () => writeFileAtomicAsync(path.join(dir, 'sum'), 's', DUMP_FILE_MODE));
    t.equal(modeOf(path.join(dir, 'sum')).toString(8), '640');
  }
});

t.test('files another user planted, under the old or a look-alike name, are never reused', { skip: NEEDS_ROOT }, async (t) => {
  if (!IS_ROOT) { t.fail('must run as root (CI does) to plant files owned by another user'); return; }
  const dir = tempDir(t);
  fs.chmodSync(dir, 0o1777); // shared like /tmp, so nobody could really have planted these
  const final = path.join(dir, 'out.dump');
  const names = [`${final}.partial`, path.join(dir, '.out.dump.partial'), final,
    ...Array.from({ length: 20 }, (_, i) => path.join(dir, `.out.dump.${i.toString(16).padStart(12, '0')}.partial`))];
  const inodes = new Set<number>();
  for (const f of names) {
    fs.writeFileSync(f, 'planted by nobody\n');
    fs.chownSync(f, NOBODY_UID, NOBODY_UID);
    fs.chmodSync(f, 0o666);
    inodes.add(fs.statSync(f).ino);
  }
  // Held open so their inode numbers stay taken when the rename unlinks the planted final file.
  const held = names.map((f) => fs.openSync(f, 'r'));
  t.teardown(() => held.forEach((fd) => fs.closeSync(fd)));
  for (const mask of [0, 0o077]) {
    t.equal(await withUmask(mask, () => writeThrough(new FileSink(final), `the dump, umask ${mask}\n`)), null);
    const st = fs.lstatSync(final);
    t.ok(st.isFile());
    t.equal(st.uid, MY_UID, 'the final file is ours');
    t.equal((st.mode & 0o7777).toString(8), '640', `mode exactly 0640 under umask ${mask.toString(8)}`);
    t.notOk(inodes.has(st.ino), 'the final file is none of the planted files');
    t.equal(fs.readFileSync(final, 'utf8'), `the dump, umask ${mask}\n`);
  }
  for (const f of names.filter((x) => x !== final)) {
    const st = fs.statSync(f);
    t.same([fs.readFileSync(f, 'utf8'), st.uid, st.mode & 0o7777], ['planted by nobody\n', NOBODY_UID, 0o666], `${path.basename(f)} untouched`);
  }
});

t.test('createTempFile\'s open flags refuse a planted symlink; it only returns new files', async (t) => {
  const dir = tempDir(t);
  const target = victim(dir);
  const absent = path.join(dir, 'created-through-a-symlink');
  const flags = TEMP_FILE_FLAGS;
  t.equal(flags & (fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW), fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 'O_CREAT|O_EXCL|O_NOFOLLOW');
  fs.symlinkSync(target, path.join(dir, '.planted'));
  fs.symlinkSync(absent, path.join(dir, '.dangling'));
  t.throws(() => fs.openSync(path.join(dir, '.planted'), flags, 0o640), { code: 'EEXIST' }, 'a symlink to a file');
  t.throws(() => fs.openSync(path.join(dir, '.dangling'), flags, 0o640), { code: 'EEXIST' }, 'a dangling symlink');
  t.throws(() => fs.openSync(path.join(dir, '.planted'), fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW), { code: 'ELOOP' }, 'O_NOFOLLOW alone');
  assertUntouched(t, target);
  t.notOk(fs.existsSync(absent));

  const final = path.join(dir, 'out.dump');
  for (let i = 0; i < 16; i++) fs.symlinkSync(target, path.join(dir, `.out.dump.${'0'.repeat(11)}${i.toString(16)}.partial`));
  for (let i = 0; i < 200; i++) {
    const before = new Set(fs.readdirSync(dir));
    const temp = createTempFile(final, DUMP_FILE_MODE);
    const name = path.basename(temp.path);
    t.equal(path.dirname(temp.path), dir);
    if (!TEMP_NAME.test(name)) t.fail(`temp name ${name} does not look like .out.dump.<12 hex>.partial`);
    if (before.has(name)) t.fail(`createTempFile returned ${name}, which existed`);
    const st = fs.lstatSync(temp.path);
    if (!st.isFile() || st.size !== 0 || st.uid !== MY_UID || st.ino !== fs.fstatSync(temp.fd).ino) t.fail(`${name} is not a new empty file of ours behind the fd`);
    fs.closeSync(temp.fd);
  }
  t.equal(partials(dir).filter((f) => TEMP_NAME.test(f)).length, 216, '200 new temp files beside the 16 planted');
  assertUntouched(t, target);
});

t.test('checkDirectory: refuses a world-writable directory without the sticky bit', async (t) => {
  const dir = tempDir(t);
  const mk = (name: string, mode: number): string => { const d = path.join(dir, name); fs.mkdirSync(d); fs.chmodSync(d, mode); return d; };
  const open = mk('open', 0o777);
  t.throws(() => checkDirectory(open), SafeFileError);
  t.throws(() => checkDirectory(open), { message: new RegExp(`^${open}: writable by every user without the sticky bit \\(mode 0777\\)`) });
  t.doesNotThrow(() => checkDirectory(mk('sticky', 0o1777)), 'sticky like /tmp');
  t.doesNotThrow(() => checkDirectory(mk('private', 0o750)));
  fs.writeFileSync(path.join(dir, 'file'), '');
  t.throws(() => checkDirectory(path.join(dir, 'file')), { message: /file: expected a directory/ });
  t.throws(() => checkDirectory(path.join(dir, 'missing')), { message: /missing: expected an existing directory, got ENOENT/ });

  t.throws(() => createTempFile(path.join(open, 'x.dump'), DUMP_FILE_MODE), SafeFileError);
  t.throws(() => writeFileAtomic(path.join(open, 'r.json'), '{}', DUMP_FILE_MODE), SafeFileError);
  t.match(await writeThrough(new FileSink(path.join(open, 'x.dump')), 'x'), new RegExp(`^cannot write ${open}/x\\.dump: ${open}: writable by every user without the sticky bit`));
  t.same(fs.readdirSync(open), [], 'nothing was created in it');
});

t.test('checkOutputDirectory: every directory on the way, and symlinks in shared directories', async (t) => {
  const dir = tempDir(t);
  const open = path.join(dir, 'open'); fs.mkdirSync(open); fs.chmodSync(open, 0o777);
  const below = path.join(open, 'dumps'); fs.mkdirSync(below, { mode: 0o750 });
  const good = path.join(dir, 'good'); fs.mkdirSync(good, { mode: 0o750 });
  t.doesNotThrow(() => checkOutputDirectory(good));
  t.doesNotThrow(() => checkDirectory(below), 'the directory alone is fine ...');
  t.throws(() => checkOutputDirectory(below), { message: new RegExp(`^${open} \\(on the way to ${below}\\): writable by every user`) }, '... but anyone can swap the directory above it');
  const link = path.join(dir, 'link'); fs.symlinkSync(below, link);
  t.throws(() => checkOutputDirectory(link), SafeFileError, 'through a symlink too');
  t.throws(() => checkOutputDirectory(path.join(good, 'missing')), { message: /expected an existing directory, got ENOENT/ });
  t.throws(() => checkOutputDirectory(open), { message: /sticky bit/ }, 'the directory itself');
  const shared = path.join(dir, 'shared'); fs.mkdirSync(shared); fs.chmodSync(shared, 0o1777);
  const mine = path.join(shared, 'mine'); fs.symlinkSync(good, mine);
  t.doesNotThrow(() => checkOutputDirectory(mine), 'our own symlink in a sticky shared directory');
  t.test('a symlink another user owns in a sticky shared directory', { skip: NEEDS_ROOT }, async (t) => {
    const theirs = path.join(shared, 'theirs'); fs.symlinkSync(good, theirs);
    fs.lchownSync(theirs, NOBODY_UID, NOBODY_UID);
    t.throws(() => checkOutputDirectory(path.join(theirs, '.')), { message: new RegExp(`^${theirs} \\(on the way to .*\\): a symlink owned by uid ${NOBODY_UID}`) });
  });
});

t.test('hostile {job} and {name} values in archive names: usage errors naming the flag', async (t) => {
  const dir = tempDir(t);
  const byJob = path.join(dir, '{job}-{timestamp}.dump');
  const byName = path.join(dir, '{name}-{timestamp}.dump');
  const bad: Array<[Record<string, unknown>, string]> = [
    [{ output: byJob, job: '../x' }, 'job'],
    [{ output: byJob, job: '..' }, 'job'],
    [{ output: byJob, job: '.' }, 'job'],
    [{ output: byJob, job: 'a/b' }, 'job'],
    [{ output: byJob, job: 'a\0b' }, 'job'],
    [{ output: dir, job: '../x' }, 'job'], // a directory: the default name uses {job}
    [{ output: byName, name: 'a/b' }, 'name'],
    [{ output: byName, name: '..' }, 'name'],
  ];
  for (const [raw, key] of bad) {
    t.throws(() => parseReceiveOptions(raw), { code: 'E_USAGE', key, message: new RegExp(`^--${key}: expected a name without /, NUL or \\.\\. when --output uses \\{${key}\\}`) }, `${JSON.stringify(raw)} names --${key}`);
  }
  t.equal(parseReceiveOptions({ output: byJob, job: 'app..v2' }).job, 'app..v2', 'dots inside a name are fine');
  t.equal(parseReceiveOptions({ output: byJob, name: 'a/b' }).name, 'a/b', 'a name that is not in the file name is not judged as one');
  t.equal(parseReceiveOptions({ output: path.join(dir, 'x.dump'), job: '../x' }).job, '../x', 'nor a job with a fixed --output FILE');
});

t.test('the binary exits 2 on a hostile archive name and creates nothing', async (t) => {
  const dir = tempDir(t);
  const archive = path.join(dir, 'archive'); fs.mkdirSync(archive);
  const cases: Array<[string[], RegExp]> = [
    [['--job', '../x', '--output', path.join(archive, '{job}-{timestamp}.dump')], /--job: expected a name without \/, NUL or \.\. when --output uses \{job\}, got "\.\.\/x"/],
    [['--name', 'a/b', '--output', path.join(archive, '{name}-{timestamp}.dump')], /--name: expected a name without \/, NUL or \.\. when --output uses \{name\}, got "a\/b"/],
  ];
  for (const [args, re] of cases) {
    const r = spawnSync(process.execPath, [BIN, 'receive', '--interface', '127.0.0.1', '--start-timeout-sec', '1', ...args], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 2, `exit 2 for ${args.join(' ')}`, { stderr: r.stderr });
    t.match(r.stderr, re);
  }
  t.same(fs.readdirSync(dir), ['archive'], 'nothing beside the archive directory');
  t.same(fs.readdirSync(archive), [], 'nothing in it');
});

t.test('the daemon config refuses them too, naming the job key and its line', async (t) => {
  const dir = tempDir(t);
  const config = (extra: string): string => `jobs:\n  - role: receive\n${extra}    output: "${dir}/{job}-{name}-{timestamp}.dump"\n`;
  t.throws(() => parseConfig(config('    job: ../x\n'), 'dbcast.yaml'), { code: 'E_CONFIG', message: /^dbcast\.yaml line 3: jobs\[0\]\.job: expected a name without \/, NUL or \.\. when --output uses \{job\}, got "\.\.\/x"$/ });
  t.throws(() => parseConfig(config('    job: app\n    name: a/b\n'), 'dbcast.yaml'), { code: 'E_CONFIG', message: /^dbcast\.yaml line 4: jobs\[0\]\.name: expected a name without \// });
  t.doesNotThrow(() => parseConfig(config('    job: app\n    name: r1\n'), 'dbcast.yaml'));
});

t.test('ArchiveSink keeps the archive in its directory whatever values it is given', async (t) => {
  const dir = tempDir(t);
  const archive = path.join(dir, 'archive'); fs.mkdirSync(archive);
  const cases: Array<[string, { job: string; name: string }]> = [
    ['{job}-{timestamp}.dump', { job: '../escaped', name: 'r1' }],
    ['{name}', { job: 'app', name: '..' }],
    ['{name}', { job: 'app', name: '.' }],
  ];
  for (const [template, vars] of cases) {
    const failure = await writeThrough(new ArchiveSink({ dir: archive, template, keep: 1 }, vars, NOW), 'x');
    t.match(failure, /is not a plain file name/, `${template} with ${JSON.stringify(vars)}`);
  }
  t.same(fs.readdirSync(dir), ['archive'], 'nothing escaped the archive directory');
  t.same(fs.readdirSync(archive), [], 'and nothing was written in it');
});

t.test('writeJsonFile: a symlink at the old FILE.tmp-PID name is untouched; the report is ours, mode 0640', async (t) => {
  const dir = tempDir(t);
  const target = victim(dir);
  const absent = path.join(dir, 'created-through-a-symlink');
  const report = path.join(dir, 'report.json');
  fs.symlinkSync(target, `${report}.tmp-${process.pid}`);
  fs.symlinkSync(absent, path.join(dir, '.report.json.partial'));
  for (const mask of [0, 0o077]) {
    withUmask(mask, () => writeJsonFile(report, { exitCode: mask }));
    t.same(JSON.parse(fs.readFileSync(report, 'utf8')), { exitCode: mask });
    const st = fs.lstatSync(report);
    t.ok(st.isFile());
    t.equal(st.uid, MY_UID, 'the report is ours');
    t.equal((st.mode & 0o7777).toString(8), '640', `report mode under umask ${mask.toString(8)}`);
  }
  assertUntouched(t, target);
  t.notOk(fs.existsSync(absent));
  t.equal(fs.readlinkSync(`${report}.tmp-${process.pid}`), target, 'the planted symlink is still there');
  t.same(partials(dir), ['.report.json.partial'], 'no temp file of ours left');

  fs.rmSync(report);
  fs.symlinkSync(target, report);
  writeJsonFile(report, { replaced: true });
  t.ok(fs.lstatSync(report).isFile(), 'a symlink at the report name is replaced, not written through');
  assertUntouched(t, target);
});
