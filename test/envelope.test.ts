// Keyed mode's envelope (protocol/envelope.ts) and the decoders under fuzzing. The fuzz part
// runs FUZZ_ITERATIONS (default 20 000) seeded iterations; more on demand:
// `FUZZ_ITERATIONS=2000000 npx tap test/envelope.test.ts`; `FUZZ_SEED=n` replays one run.
import t from 'tap';
import { randomBytes } from 'crypto';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  ENVELOPE_OVERHEAD_BYTES, Opener, PacketType, Sealer, decodePacket, encodeDataPacket, encodePacket,
} from '../protocol';
import { Rng } from './sim/rng';
import { BIN, tempDir } from './helpers/dbcast';
import { KEY_FILE_FLAGS, readKeyFile } from '../runtime/key-file';

const key = randomBytes(32);
const sid = '0123456789abcdef';
const packet = (offset: number): Buffer => { const b = Buffer.from(`payload at ${offset}`); return Buffer.from(encodeDataPacket(sid, offset, [b], b.length)); };

t.test('sealed packets open with the key and only with it', async (t) => {
  const s = new Sealer(key, 0);
  const o = new Opener(key);
  const p = packet(0);
  const sealed = s.seal(p);
  t.equal(sealed.length, p.length + ENVELOPE_OVERHEAD_BYTES);
  t.notOk(sealed.includes(Buffer.from('payload at 0')), 'no plaintext in the envelope');
  const r = o.open(sealed);
  t.ok(r.ok && r.packet.equals(p) && r.partyId === 0);
  t.same(new Opener(randomBytes(32)).open(s.seal(packet(1))), { ok: false, reason: 'env-auth-failed' }, 'another key');
  // The same key but another session (another run): its session key differs.
  const other = Buffer.from(encodePacket({ type: PacketType.DoneAck, sessionId: 'fedcba9876543210', receiverId: 1 }));
  const moved = s.seal(other);
  Buffer.from(sid, 'hex').copy(moved, 3); // claim the current session in the clear part
  t.same(o.open(moved), { ok: false, reason: 'env-auth-failed' }, 'a packet of another session cannot be relabelled');
});

t.test('every single-bit flip is rejected', async (t) => {
  const o = new Opener(key);
  const sealed = new Sealer(key, 7).seal(packet(100));
  let rejected = 0;
  for (let i = 0; i < sealed.length * 8; i++) {
    const b = Buffer.from(sealed); b[i >> 3] ^= 1 << (i & 7);
    if (!o.open(b).ok) rejected++;
  }
  t.equal(rejected, sealed.length * 8);
  t.ok(o.open(sealed).ok, 'the original still opens (flipped copies did not move the replay window)');
});

t.test('replays are dropped; reordering within the window is fine', async (t) => {
  const s = new Sealer(key, 42);
  const o = new Opener(key);
  const a = s.seal(packet(1)); const b = s.seal(packet(2)); const c = s.seal(packet(3));
  t.ok(o.open(c).ok, 'newest first');
  t.ok(o.open(a).ok, 'older, within the window');
  t.same(o.open(a), { ok: false, reason: 'env-replayed' });
  t.ok(o.open(b).ok);
  t.same(o.open(c), { ok: false, reason: 'env-replayed' });
  const old = s.seal(packet(4));
  for (let i = 0; i < 5000; i++) o.open(s.seal(packet(5)));
  t.same(o.open(old), { ok: false, reason: 'env-too-old' });
  const other = new Sealer(key, 43).seal(packet(1));
  t.ok(o.open(other).ok, 'another party has its own counter space');
});

t.test('key files: missing, wrong size, readable by others → exit 2 naming --key-file', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, data: string | Buffer, mode: number): string => { const f = path.join(dir, name); fs.writeFileSync(f, data); fs.chmodSync(f, mode); return f; };
  const good = write('good', randomBytes(32), 0o600);
  const link = path.join(dir, 'link'); fs.symlinkSync(good, link);
  const openDir = path.join(dir, 'open-dir'); fs.mkdirSync(openDir); fs.chmodSync(openDir, 0o777);
  const fifo = path.join(dir, 'fifo');
  const hasFifo = spawnSync('mkfifo', ['-m', '600', fifo]).status === 0;
  const cases: Array<[string, RegExp]> = [
    [path.join(dir, 'missing'), /ENOENT/],
    [write('short', randomBytes(16), 0o600), /16 bytes/],
    [write('open', randomBytes(32), 0o644), /only its owner can read.*mode 644/],
    [write('text', 'not a key\n', 0o600), /hex digits/],
    [write('huge', Buffer.alloc(1 << 20, 0x61), 0o600), /hex digits.*1048576 bytes/],
    [link, /not a symbolic link.*is a symbolic link/],
    [dir, /a regular file.*is a directory/],
    [write('open-dir/k', randomBytes(32), 0o600), /other users cannot write to.*mode 777/],
    ...(hasFifo ? [[fifo, /a regular file.*is a FIFO/] as [string, RegExp]] : []),
  ];
  for (const [file, re] of cases) {
    const r = spawnSync(process.execPath, [BIN, 'receive', '--key-file', file, '--output', path.join(dir, 'x')], { encoding: 'utf8', timeout: 30_000 });
    t.equal(r.status, 2, file);
    t.match(r.stderr, /--key-file: expected/);
    t.match(r.stderr, re);
  }
  const hex = write('hex', `${randomBytes(32).toString('hex')}\n`, 0o600);
  const ok = spawnSync(process.execPath, [BIN, 'send', '--key-file', hex, '--payload-bytes', '99999'], { encoding: 'utf8', input: '' });
  t.match(ok.stderr, /--payload-bytes/, 'a hex key file is accepted (the next error is about another flag)');
});

t.test('key files are read through one O_NOFOLLOW descriptor, from a place no other user can steer', async (t) => {
  const dir = tempDir(t);
  const key = randomBytes(32);
  const write = (d: string, name: string, mode = 0o600): string => { const f = path.join(d, name); fs.writeFileSync(f, key); fs.chmodSync(f, mode); return f; };
  const refused = (file: string, re: RegExp, what: string): void => {
    t.throws(() => readKeyFile(file), { code: 'E_USAGE', key: 'key-file', message: re }, what);
  };

  t.ok(KEY_FILE_FLAGS & fs.constants.O_NOFOLLOW, 'opened with O_NOFOLLOW');
  t.same(readKeyFile(write(dir, 'good')), key, 'a 0600 file of ours in a private directory: accepted');

  const link = path.join(dir, 'link'); fs.symlinkSync(path.join(dir, 'good'), link);
  refused(link, /--key-file: expected a regular file, not a symbolic link .*is a symbolic link/, 'a symlink, even to a good key');

  const open = path.join(dir, 'open'); fs.mkdirSync(open); fs.chmodSync(open, 0o777);
  refused(write(open, 'k'), /a directory other users cannot write to \(chmod o-w .*mode 777 \(any user could replace the key\)/, 'a directory every user may write to');
  const groupOnly = path.join(dir, 'group'); fs.mkdirSync(groupOnly); fs.chmodSync(groupOnly, 0o770);
  t.same(readKeyFile(write(groupOnly, 'k')), key, 'a group-writable directory is not refused (only other-writable)');
  const sticky = path.join(dir, 'sticky'); fs.mkdirSync(sticky); fs.chmodSync(sticky, 0o1777);
  t.same(readKeyFile(write(sticky, 'k')), key, 'a sticky directory like /tmp: accepted (only the owner may replace the file)');

  const uid = process.getuid?.();
  // CI runs as root, so chown to nobody works there; elsewhere a non-root run cannot make one.
  const skip = uid !== 0 && !process.env.CI ? 'a key file owned by another user: chown needs root (CI runs as root)' : false;
  t.test('a key file owned by another user', { skip }, async (t) => {
    const other = write(dir, 'nobody');
    fs.chownSync(other, 65534, 65534);
    t.throws(() => readKeyFile(other), {
      code: 'E_USAGE', key: 'key-file',
      message: new RegExp(`a file owned by the user dbcast runs as \\(chown .*\\) or by root.*owned by uid 65534, dbcast runs as uid ${uid}`),
    }, 'owned by nobody');
  });
});

t.test('fuzz: the envelope and the packet decoder never throw on random or mutated input', async (t) => {
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
  const seed = Number(process.env.FUZZ_SEED ?? 1);
  const rng = new Rng(seed);
  const o = new Opener(key);
  const s = new Sealer(key, 9);
  const valid = [packet(0), Buffer.from(encodePacket({ type: PacketType.DoneAck, sessionId: sid, receiverId: 3 })),
    Buffer.from(encodePacket({ type: PacketType.Abort, sessionId: sid, reason: 1, message: 'x' }))];
  let opened = 0; let decoded = 0;
  for (let i = 0; i < iterations; i++) {
    const base = rng.next() < 0.5 ? s.seal(valid[rng.int(0, valid.length - 1)]) : Buffer.from(valid[rng.int(0, valid.length - 1)]);
    let b: Buffer;
    switch (rng.int(0, 3)) {
      case 0: b = rng.bytes(rng.int(0, 1600)); break;
      case 1: b = Buffer.from(base); for (let k = rng.int(1, 8); k > 0; k--) b[rng.int(0, b.length - 1)] = rng.int(0, 255); break;
      case 2: b = base.subarray(0, rng.int(0, base.length)); break;
      default: b = Buffer.concat([base, rng.bytes(rng.int(1, 64))]);
    }
    try {
      // An input equal to its (freshly sealed) base is a genuine packet, not a forgery.
      if (o.open(b).ok && !b.equals(base)) opened++;
      if (decodePacket(b).ok) decoded++;
    } catch (err) {
      t.fail(`seed ${seed} iteration ${i} threw: ${(err as Error).message}`);
      return;
    }
  }
  // A throw above fails the test; this checks the inputs reach past the first checks (an input
  // mix that is all rejected on its length or magic would fuzz almost nothing).
  t.ok(decoded > 0, `${iterations} inputs (seed ${seed}): none threw; ${decoded} decoded as plain packets`);
  t.equal(opened, 0, 'no changed, truncated, extended or random input authenticated');
});

t.test('keyless hardening flags: --receivers (named receivers) and --sender (pinned sender)', async (t) => {
  const { parseReceiveOptions, parseSendOptions } = await import('../src/options');
  const send = parseSendOptions({ receivers: 'replica1, replica2,archive' });
  t.same([send.allowedNames, send.minReceivers], [['replica1', 'replica2', 'archive'], 3], '--min-receivers defaults to the number of names');
  t.equal(parseSendOptions({ receivers: 'a,b,c', 'min-receivers': '2' }).minReceivers, 2);
  t.throws(() => parseSendOptions({ receivers: 'a,b', 'min-receivers': '3' }), { code: 'E_USAGE', key: 'min-receivers' }, 'more than the named receivers');
  t.throws(() => parseSendOptions({ receivers: 'a,,b' }), { code: 'E_USAGE', key: 'receivers' });
  t.throws(() => parseSendOptions({ receivers: 'a,a' }), { code: 'E_USAGE', key: 'receivers' });
  t.equal(parseReceiveOptions({ sender: '10.0.0.5', output: '/tmp/x' }).senderAddress, '10.0.0.5');
  t.throws(() => parseReceiveOptions({ sender: 'primary.example', output: '/tmp/x' }), { code: 'E_USAGE', key: 'sender' });
});
