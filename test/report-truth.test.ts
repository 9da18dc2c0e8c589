// Truth in the sender's report: every receiver the sender was told to expect has a row (missing
// when it never came), and a transfer that started below --min-receivers is degraded (exit 10),
// never a plain success. The protocol part is pure; the last test runs real processes.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import type { SenderSession } from '../protocol';
import { EXIT } from '../runtime/exit-codes';
import { formatSenderReport } from '../runtime/report';
import { senderExitCode } from '../sender/run-send';
import { dbcast, randomFile, sha256File, tempDir } from './helpers/dbcast';
import { exchange, receiver, sender } from './helpers/sessions';
import type { ReceiverSession } from '../protocol';

const THREE = ['r0', 'r1', 'r2'];

/** Pass packets until the sender has finished (or the clock runs out); verified receivers' sinks succeed. */
function run(s: SenderSession, rs: ReceiverSession[], fromMs: number, served = rs): void {
  for (let now = fromMs; now < fromMs + 20_000 && !s.isFinished; now += 10) {
    exchange(s, served, now);
    for (const r of served) if (r.isVerified) r.handleSinksFinished(true, -1, '', now);
  }
}

/** Feed `bytes` of input, then run to the end. */
function transfer(s: SenderSession, rs: ReceiverSession[], fromMs: number, bytes = 5000): void {
  s.handleInput(Buffer.alloc(bytes, 3), fromMs);
  s.handleInputEnd(fromMs);
  run(s, rs, fromMs);
}

t.test('max-wait started the transfer with 2 of 3 expected receivers: a missing row, degraded, exit 10', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 3, maxWaitMinReceivers: 2, maxWaitMs: 1000 });
  const rs = [receiver(0), receiver(1)]; // r2 never comes
  exchange(s, rs, 0);
  t.equal(s.currentState, 'waiting', 'two of three: still waiting for the third');
  exchange(s, rs, 1000);
  t.equal(s.currentState, 'sending', 'max-wait expired with enough for --max-wait-min-receivers');
  transfer(s, rs, 1001);
  t.ok(s.isFinished, 'the transfer finished');
  const r = s.report();
  t.equal(r.outcome, 'completed');
  t.same(r.receivers.map((x) => [x.name, x.outcome, x.code]), [['r0', 'ok', 'ok'], ['r1', 'ok', 'ok'], ['r2', 'missing', 'never-joined']], 'one row per expected name');
  t.equal(r.expectedReceivers, 3);
  t.equal(r.receiversAtStart, 2);
  t.equal(r.degraded, true);
  t.match(r.degradedReason, /started with 2 of 3 receivers/);
  t.match(r.degradedReason, /missing: r2/);
  t.equal(senderExitCode(r), EXIT.DEGRADED, 'its own exit code, not 0');
  const text = formatSenderReport(r, senderExitCode(r));
  t.match(text, /^\s+r2\s+missing\s+never-joined/m, 'the printed table has the missing row');
  t.match(text, /DEGRADED: started with 2 of 3/, 'and says degraded');
  t.match(text, /receivers: 2 ok of 3 expected, 2 at the start/);
});

t.test('every expected receiver came: no missing row, not degraded, exit 0', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 3, maxWaitMinReceivers: 2, maxWaitMs: 1000 });
  const rs = [receiver(0), receiver(1), receiver(2)];
  exchange(s, rs, 0);
  t.equal(s.currentState, 'sending', 'started as soon as all three joined');
  transfer(s, rs, 1);
  const r = s.report();
  t.same(r.receivers.map((x) => x.outcome), ['ok', 'ok', 'ok']);
  t.equal(r.degraded, false);
  t.equal(r.degradedReason, null);
  t.equal(senderExitCode(r), EXIT.OK);
});

t.test('an explicit lower --min-receivers still names the receiver that never joined: degraded', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 2, maxWaitMinReceivers: 2 });
  const rs = [receiver(0), receiver(1)];
  exchange(s, rs, 0);
  t.equal(s.currentState, 'sending', 'two are enough to start');
  transfer(s, rs, 1);
  const r = s.report();
  t.equal(r.receiversAtStart, 2);
  t.match(r.receivers.find((x) => x.name === 'r2'), { name: 'r2', outcome: 'missing', code: 'never-joined' }, 'r2 has its row');
  t.equal(r.degradedReason, 'missing: r2', 'not below min-receivers, but r2 is missing');
  t.equal(senderExitCode(r), EXIT.DEGRADED);
});

t.test('an expected receiver that came too late: its missing row carries the refusal', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 2, maxWaitMinReceivers: 2 });
  const rs = [receiver(0), receiver(1)];
  exchange(s, rs, 0);
  t.equal(s.currentState, 'sending');
  const late = receiver(2);
  exchange(s, [...rs, late], 60); // a heartbeat reaches it, it joins, it is refused
  transfer(s, [...rs, late], 61);
  const r = s.report();
  const row = r.receivers.find((x) => x.name === 'r2');
  t.match(row, { outcome: 'missing', code: 'late-join', address: /^192\.0\.2\.9:5002$/ }, 'the refusal reason and its address');
  t.equal(r.receivers.length, 3, 'one row for r2, not two');
  const text = formatSenderReport(r, senderExitCode(r));
  t.equal(text.split('\n').filter((l) => /r2@/.test(l)).length, 1, 'the printed table does not list r2 twice');
  t.equal(senderExitCode(r), EXIT.DEGRADED);
});

t.test('a failed receiver outweighs a missing one: exit 4, still marked degraded', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 2, maxWaitMinReceivers: 2 });
  const rs = [receiver(0), receiver(1)];
  exchange(s, rs, 0);
  s.handleInput(Buffer.alloc(5000, 3), 1);
  s.handleInputEnd(1);
  // r1 falls silent: only r0 is served from here on, r1 is dropped after the idle timeout.
  run(s, rs, 1, [rs[0]]);
  const r = s.report();
  t.same(r.receivers.map((x) => [x.name, x.outcome]), [['r0', 'ok'], ['r1', 'dropped'], ['r2', 'missing']]);
  t.equal(r.degraded, true);
  t.equal(senderExitCode(r), EXIT.RECEIVERS_FAILED);
});

t.test('without --receivers: no names to miss, but a start below --min-receivers is degraded', async (t) => {
  const s = sender({ minReceivers: 3, maxWaitMinReceivers: 1, maxWaitMs: 500 });
  const rs = [receiver(0)];
  exchange(s, rs, 0);
  exchange(s, rs, 500);
  transfer(s, rs, 501);
  const r = s.report();
  t.same(r.receivers.map((x) => x.outcome), ['ok'], 'no invented rows');
  t.equal(r.expectedReceivers, 3);
  t.match(r.degradedReason, /^started with 1 of 3 receivers/);
  t.equal(senderExitCode(r), EXIT.DEGRADED);
});

t.test('an abort before the start is a failure, not degraded', async (t) => {
  const s = sender({ allowedNames: THREE, minReceivers: 3, maxWaitMinReceivers: 3, maxWaitMs: 500 });
  const rs = [receiver(0)];
  exchange(s, rs, 0);
  exchange(s, rs, 500);
  for (let now = 500; now < 5000 && !s.isFinished; now += 50) exchange(s, rs, now);
  const r = s.report();
  t.equal(r.abortReason, 'not-enough-receivers');
  t.equal(r.degraded, false);
  t.same(r.receivers.filter((x) => x.outcome === 'missing').map((x) => x.name), ['r1', 'r2'], 'the missing are still listed');
  t.equal(senderExitCode(r), EXIT.NO_SESSION);
});

// ------------------------------------------------------------ real processes (under the test lock)

const net = (port: number, job: string): string[] => ['--interface', '127.0.0.1', '--group', '239.255.42.7', '--port', String(port), '--job', job];

t.test('loopback: send --receivers a,b,c --max-wait-sec 3 --max-wait-min-receivers 2 with c down', async (t) => {
  const dir = tempDir(t);
  const input = path.join(dir, 'in.bin');
  const hash = randomFile(input, 2 << 20);
  const rs = ['a', 'b'].map((name) => dbcast(['receive', ...net(9861, 'truth'), '--name', name, '--output', path.join(dir, `${name}.dump`), '--start-timeout-sec', '60']));
  await Promise.all(rs.map((r) => r.stderrMatch(/listening for job/)));
  const reportFile = path.join(dir, 'report.json');
  const s = await dbcast(['send', ...net(9861, 'truth'), '--receivers', 'a,b,c', '--max-wait-sec', '3', '--max-wait-min-receivers', '2', '--report', reportFile], { stdinFile: input }).done;
  const done = await Promise.all(rs.map((r) => r.done));
  done.forEach((r, i) => t.equal(r.code, 0, `receiver ${'ab'[i]} verified`, { stderr: r.stderr }));
  t.equal(s.code, EXIT.DEGRADED, 'the sender exits 10 (degraded), not 0', { stderr: s.stderr });
  for (const name of ['a', 'b']) t.equal(sha256File(path.join(dir, `${name}.dump`)), hash, `${name} is byte-exact`);
  const report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  // a and b join in whichever order their JOINs arrive; the missing rows come after the joined.
  const rows = report.receivers.map((x: { name: string; outcome: string }) => [x.name, x.outcome]);
  t.same(rows.slice(0, 2).sort(), [['a', 'ok'], ['b', 'ok']], 'a and b ok');
  t.same(rows.slice(2), [['c', 'missing']], 'c has a missing row');
  t.match(report, { degraded: true, exitCode: EXIT.DEGRADED, receiversAtStart: 2, expectedReceivers: 3 });
  t.match(report.degradedReason, /started with 2 of 3 receivers.*missing: c/);
  t.match(s.stderr, /^\s+c\s+missing\s+never-joined/m, 'stderr table: c missing');
  t.match(s.stderr, /DEGRADED: /, 'stderr says degraded');
});
