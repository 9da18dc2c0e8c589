// Split brain over loopback: real `dbcast send` processes of one job (the old primary's cron
// still running after a failover), receivers that must refuse both and deliver nothing; the
// source guard with a remembered identity; forged announces that can stop a run, never inject one.
import t from 'tap';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { PacketType, encodePacket } from '../protocol';
import type { SourceIdentity } from '../runtime/source-identity';
import { BIN, dbcast, listening, randomFile, sha256File, tempDir } from './helpers/dbcast';
import { sendWithSource } from './helpers/source-sender';
import { spawnSync } from 'child_process';

const GROUP = '239.255.43.1';
const net = (port: number, job: string): string[] => ['--interface', '127.0.0.1', '--group', GROUP, '--port', String(port), '--job', job];
/** Nothing of the stream under any name in dir but the input and what the test put there. */
const written = (dir: string, keep: string[]): string[] => fs.readdirSync(dir).filter((f) => !keep.includes(f));
const report = (file: string): { outcome: string; abortReason: string | null; receivers: Array<{ name: string; code: string; detail: string }> } => JSON.parse(fs.readFileSync(file, 'utf8'));

/** A keyless host on the segment announcing `job` (nothing behind it answers). */
async function forgeAnnounce(port: number, job: string, times: number): Promise<void> {
  const sock = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  sock.setMulticastInterface('127.0.0.1');
  const sessionId = randomBytes(8).toString('hex');
  for (let i = 0; i < times; i++) {
    const bytes = encodePacket({ type: PacketType.Announce, sessionId, senderTimeMs: Date.now(), windowBytes: 1 << 20, payloadBytes: 1400, job, info: '' });
    await new Promise<void>((resolve) => sock.send(bytes, port, GROUP, () => resolve()));
    await new Promise((r) => setTimeout(r, 50));
  }
  sock.close();
}

t.test('two senders of one job: both exit 4 naming split-brain, the receivers exit 12, nothing written', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  randomFile(input, 4 << 20);
  const receivers = [1, 2].map((i) => dbcast(['receive', ...net(9800, 'app'), '--name', `r${i}`, '--output', path.join(dir, `out${i}.dump`), '--start-timeout-sec', '30']));
  await listening(receivers);
  // The new primary waits for a third receiver that never comes: the old one starts meanwhile.
  const a = dbcast(['send', ...net(9800, 'app'), '--command', `cat ${input}`, '--min-receivers', '3', '--max-wait-sec', '30', '--report', path.join(dir, 'a.json')]);
  await a.stderrMatch(/announcing job 'app'/);
  const b = dbcast(['send', ...net(9800, 'app'), '--command', `cat ${input}`, '--min-receivers', '2', '--max-wait-sec', '30', '--report', path.join(dir, 'b.json')]);
  const [ra, rb, ...rs] = await Promise.all([a.done, b.done, ...receivers.map((r) => r.done)]);
  for (const [name, r] of [['first sender', ra], ['second sender', rb]] as const) {
    t.equal(r.code, 4, `${name} exits 4`, { stderr: r.stderr });
    t.match(r.stderr, /split-brain/, `${name} names the reason`);
  }
  t.equal(report(path.join(dir, 'b.json')).abortReason, 'split-brain', 'the second heard the first announce and refused to race it');
  for (const r of rs) {
    t.equal(r.code, 12, 'receiver exits 12', { stderr: r.stderr });
    t.match(r.stderr, /two senders announce job 'app'|split brain/);
  }
  const rows = [...report(path.join(dir, 'a.json')).receivers, ...report(path.join(dir, 'b.json')).receivers];
  for (const row of rows) t.equal(row.code, 'split-brain', `${row.name}'s row says split-brain`);
  t.same(written(dir, ['in.bin', 'a.json', 'b.json']), [], 'no output, no partial file');
});

t.test('a rival that appears while the stream runs: the running transfer is refused too, nothing written', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  randomFile(input, 1 << 20);
  const receivers = [1, 2].map((i) => dbcast(['receive', ...net(9801, 'app'), '--name', `r${i}`, '--output', path.join(dir, `out${i}.dump`), '--start-timeout-sec', '30']));
  await listening(receivers);
  // A dump that stalls half way (a long table): the stream cannot verify before the rival comes.
  const a = dbcast(['send', ...net(9801, 'app'), '--command', `head -c 100000 ${input}; sleep 20; cat ${input}`, '--min-receivers', '2', '--report', path.join(dir, 'a.json')]);
  await a.stderrMatch(/starting transfer to 2 receiver/);
  const b = dbcast(['send', ...net(9801, 'app'), '--command', `cat ${input}`, '--min-receivers', '2', '--max-wait-sec', '30', '--report', path.join(dir, 'b.json')]);
  const [ra, rb, ...rs] = await Promise.all([a.done, b.done, ...receivers.map((r) => r.done)]);
  t.equal(ra.code, 4, 'the running sender exits 4', { stderr: ra.stderr });
  t.equal(rb.code, 4, 'the rival exits 4', { stderr: rb.stderr });
  t.match(rb.stderr, /aborting the session: split-brain/);
  for (const row of report(path.join(dir, 'a.json')).receivers) t.equal(row.code, 'split-brain', `${row.name}: the running sender's row`);
  for (const r of rs) t.equal(r.code, 12, 'receiver exits 12', { stderr: r.stderr });
  t.same(written(dir, ['in.bin', 'a.json', 'b.json']), [], 'no output, no partial file');
});

t.test('keyless: a forged announce of the job stops a run, never injects one', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  randomFile(input, 1 << 20);
  const r = dbcast(['receive', ...net(9802, 'app'), '--name', 'r1', '--output', path.join(dir, 'out.dump'), '--start-timeout-sec', '30']);
  await listening([r]);
  const a = dbcast(['send', ...net(9802, 'app'), '--command', `cat ${input}`, '--min-receivers', '2', '--max-wait-sec', '30']);
  await a.stderrMatch(/announcing job 'app'/);
  await forgeAnnounce(9802, 'app', 5);
  const [ra, rr] = await Promise.all([a.done, r.done]);
  t.equal(ra.code, 4, 'the sender stops', { stderr: ra.stderr });
  t.match(ra.stderr, /split-brain/);
  t.not(rr.code, 0, 'the receiver does not succeed', { stderr: rr.stderr });
  t.same(written(dir, ['in.bin']), [], 'nothing delivered');
});

t.test('keyed: a keyless forged announce is rejected by the key and the run completes', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 1 << 20);
  const key = path.join(dir, 'k.key'); fs.writeFileSync(key, randomBytes(32)); fs.chmodSync(key, 0o600);
  const r = dbcast(['receive', ...net(9803, 'app'), '--key-file', key, '--name', 'r1', '--output', path.join(dir, 'out.dump'), '--start-timeout-sec', '30']);
  await listening([r]);
  const a = dbcast(['send', ...net(9803, 'app'), '--key-file', key, '--command', `cat ${input}`, '--min-receivers', '1', '--min-wait-sec', '2']);
  await a.stderrMatch(/receiver r1 joined/);
  await forgeAnnounce(9803, 'app', 5);
  const [ra, rr] = await Promise.all([a.done, r.done]);
  t.equal(ra.code, 0, 'sender exit 0', { stderr: ra.stderr });
  t.equal(rr.code, 0, 'receiver exit 0', { stderr: rr.stderr });
  t.equal(sha256File(path.join(dir, 'out.dump')), hash);
});

const primary: SourceIdentity = { engine: 'postgres', systemId: '7301234567890123456', timeline: 3, inRecovery: false, replicaAllowed: false, host: 'db1', database: 'app' };

t.test('the source guard: remembered identity, a changed one refused until accepted, an older timeline, a replica', async (t) => {
  const dir = tempDir(t);
  const state = path.join(dir, 'source-app.json');
  const input = randomBytes(200_000);
  const run = async (port: number, source: SourceIdentity, extra: string[] = []): Promise<{ code: number | null; stderr: string; row: { code: string; detail: string }; out: boolean }> => {
    const out = path.join(dir, `out-${port}.dump`);
    const r = dbcast(['receive', ...net(port, 'app'), '--name', 'r1', '--output', out, '--source-state', state, '--start-timeout-sec', '30', '--report', path.join(dir, `r-${port}.json`), ...extra]);
    await listening([r]);
    const rep = await sendWithSource({ group: GROUP, port, job: 'app', minReceivers: 1, input, source });
    const res = await r.done;
    const exists = fs.existsSync(out);
    fs.rmSync(out, { force: true });
    return { ...res, row: rep.receivers[0], out: exists };
  };
  const first = await run(9804, primary);
  t.equal(first.code, 0, 'a job with no history accepts its first source', { stderr: first.stderr });
  t.match(first.stderr, /first source for this job: postgres 730123456789…\/timeline 3 on db1/);
  t.match(JSON.parse(fs.readFileSync(state, 'utf8')).accepted, { systemId: primary.systemId, timeline: 3 }, 'remembered after success');
  t.match(JSON.parse(fs.readFileSync(path.join(dir, 'r-9804.json'), 'utf8')).source, { systemId: primary.systemId }, 'the report carries it');

  const promoted = { ...primary, systemId: '7399999999999999999', timeline: 1, host: 'db2' };
  const changed = await run(9805, promoted);
  t.equal(changed.code, 12, 'a changed identity: exit 12', { stderr: changed.stderr });
  t.equal(changed.row.code, 'split-brain', 'the sender\'s row says split-brain');
  t.match(changed.row.detail, /accept-source/);
  t.notOk(changed.out, 'nothing written');

  const older = await run(9806, { ...primary, timeline: 2 });
  t.equal(older.code, 12, { stderr: older.stderr });
  t.equal(older.row.code, 'stale-source', 'an older timeline is stale-source');

  const replica = await run(9807, { ...primary, inRecovery: true, replicaAllowed: true });
  t.equal(replica.row.code, 'stale-source', 'a replica source without --allow-replica-source');
  const allowed = await run(9808, { ...primary, inRecovery: true, replicaAllowed: true }, ['--allow-replica-source']);
  t.equal(allowed.code, 0, 'allowed with the flag', { stderr: allowed.stderr });

  const acc = spawnSync(process.execPath, [BIN, 'accept-source', 'app', '--source-state', state], { encoding: 'utf8' });
  t.equal(acc.status, 0, acc.stderr);
  t.match(acc.stdout, /the next run accepts whatever source it announces \(was postgres 730123456789/);
  const accepted = await run(9809, promoted);
  t.equal(accepted.code, 0, 'accepted once, after the operator said so', { stderr: accepted.stderr });
  t.match(accepted.stderr, /new source postgres 739999999999…\/timeline 1 on db2 database app \(primary\) accepted by the operator/);
  const after = JSON.parse(fs.readFileSync(state, 'utf8'));
  t.equal(after.accepted.systemId, promoted.systemId, 'the new primary is the job\'s source now');
  t.equal(after.acceptNext, null, 'the acceptance is used up');
  const back = await run(9810, primary);
  t.equal(back.row.code, 'split-brain', 'the old primary is refused from now on');
});
