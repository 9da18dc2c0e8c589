// The spool closes its file once: a stream's destroy() closes the fd itself, so closing it
// again failed with EBADF (the import of a verified dump then failed: seen in CI) or closed
// whatever file had taken the number in between.
import t from 'tap';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Spool } from '../receiver/restore/spool';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

t.test('complete() closes the spool once; a file opened right after keeps its descriptor', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (let round = 0; round < 50; round++) {
    const spool = new Spool(dir, `s${round}`);
    const errors: string[] = [];
    spool.onError((m) => errors.push(m));
    spool.write(Buffer.alloc(256 * 1024, round));
    await spool.complete();
    const other = fs.openSync(path.join(dir, `other${round}`), 'w');
    for (let i = 0; i < 4; i++) await tick();
    let otherOpen = true;
    try { fs.fstatSync(other); } catch { otherOpen = false; }
    if (!otherOpen || errors.length > 0 || spool.failure !== null) {
      t.fail(`round ${round}: other file open ${otherOpen}, errors ${JSON.stringify(errors)}, failure ${spool.failure}`);
      return;
    }
    fs.closeSync(other);
    t.equal(fs.statSync(spool.path).size, 256 * 1024);
    await spool.remove();
    t.notOk(fs.existsSync(spool.path), 'removed');
  }
});

t.test('remove() before complete() closes once and deletes the file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-spool-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const spool = new Spool(dir, 'early');
  const errors: string[] = [];
  spool.onError((m) => errors.push(m));
  spool.write(Buffer.alloc(1 << 20, 1));
  await spool.remove();
  const other = fs.openSync(path.join(dir, 'other'), 'w');
  for (let i = 0; i < 4; i++) await tick();
  t.doesNotThrow(() => fs.fstatSync(other), 'a file opened after keeps its descriptor');
  fs.closeSync(other);
  t.same(errors, []);
  t.notOk(fs.existsSync(spool.path));
});
