// `dbcast receive`: drives a ReceiverSession with real sockets, a real clock and the sinks.
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as path from 'path';
import {
  DoneStatus, RECEIVER_TIMING_DEFAULTS, RESTORE_OUTCOME_NAMES, ReceiverSession, RestoreOutcome, type ReceiverOutcomeCode, type Transmit,
} from '../protocol';
import { nowMs } from '../runtime/clock';
import { wire } from '../runtime/keyed';
import { mib, startProgress } from '../runtime/progress';
import { Driver, onInterrupt } from '../runtime/driver';
import { EXIT } from '../runtime/exit-codes';
import { writeJsonFile } from '../runtime/report';
import { checkCanReplace, checkOutputDirectory, SafeFileError } from '../runtime/safe-file';
import { addSeenSession, readSeenSessions } from '../runtime/seen-sessions';
import { stdoutKind } from '../runtime/stdio';
import type { Logger } from '../runtime/log';
import { bindSocket, enlargeBuffers, requireLocalAddress } from '../runtime/net';
import type { ReceiveOptions } from './receive-options';
import { UsageError } from '../runtime/usage-error';
import { preflightRestore, type ReadyRestore } from './restore/preflight';
import { openStage, type SinkStage } from './sink-factory';
import { decodeStreamInfo } from '../runtime/stream-info';
import type { SinkFailure } from './sinks/sink';
import { guardSource } from './source-guard';
import { readSourceState, writeSourceState, EMPTY_SOURCE_STATE, type SourceState } from './source-state';
import type { SourceIdentity } from '../runtime/source-identity';

const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;
/** Chunks handed to the sinks per turn of the event loop, so packets keep being read. */
const DELIVER_BATCH = 512;

const EXIT_BY_OUTCOME: Record<ReceiverOutcomeCode, number> = {
  'ok': EXIT.OK,
  'no-session': EXIT.NO_SESSION,
  'refused': EXIT.RECEIVERS_FAILED,
  'dropped': EXIT.RECEIVERS_FAILED,
  'aborted': EXIT.ABORTED,
  'hash-mismatch': EXIT.INTERRUPTED_OR_MISMATCH,
  'sink-failed': EXIT.SINK_FAILED,
  'timeout': EXIT.TIMEOUT,
  'local-error': EXIT.INTERNAL,
  'preflight-failed': EXIT.PREFLIGHT_FAILED,
  'split-brain': EXIT.SOURCE_REFUSED,
  'stale-source': EXIT.SOURCE_REFUSED,
};

export async function runReceive(opts: ReceiveOptions, log: Logger): Promise<number> {
  log = log.child({ job: opts.job, role: 'receive', receiver: opts.name }); // fields of every JSON log line
  const startedAtMs = nowMs();
  if (opts.stdout && stdoutKind() === 'tty') {
    throw new UsageError('output', 'a file (--output FILE), a command (--pipe CMD), or stdout redirected away from the terminal', 'stdout is a terminal');
  }
  requireLocalAddress(opts.interfaceAddress);
  const outputDir = opts.outputFile ? path.dirname(path.resolve(opts.outputFile)) : opts.archive?.dir;
  if (outputDir) {
    try { fs.accessSync(outputDir, fs.constants.W_OK); } catch {
      throw new UsageError('output', 'a path in an existing, writable directory', opts.outputFile ?? opts.archive?.dir);
    }
  }
  // Refused before joining: another user could swap our files in such a directory.
  const dirs: Array<[string, string | undefined]> = [['output', outputDir], ['report', opts.reportFile && path.dirname(path.resolve(opts.reportFile))]];
  for (const [key, dir] of dirs) {
    if (!dir) continue;
    try { checkOutputDirectory(dir); } catch (err) {
      if (err instanceof SafeFileError) throw new UsageError(key, 'a directory no other user can write into or swap', err.message);
      throw err;
    }
  }
  // Checked before joining, so that a receiver that cannot restore says so at once.
  let preflightFailure: string | null = null;
  let readyRestore: ReadyRestore | null = null;
  if (opts.restore?.whileReceiving && !opts.key) {
    log.warn('--restore-while-receiving without --key-file: unauthenticated bytes reach the database before the stream is verified (anyone on the segment can forge them)');
  }
  if (opts.restore) {
    const p = await preflightRestore(opts.restore);
    if (p.ok) {
      readyRestore = p.ready;
      log.info(`restore preflight ok: ${p.summary}`);
      for (const w of p.warnings) log.warn(w);
    }
    else { preflightFailure = `preflight: ${p.reason}`; log.error(`${preflightFailure}; joining only to report it`); }
  }
  const dataSock = dgram.createSocket({ type: 'udp4', reuseAddr: true }); // several receivers per host
  // Bound to the group address, so other groups on the same port never reach this socket.
  await bindSocket(dataSock, opts.port, opts.group);
  dataSock.addMembership(opts.group, opts.interfaceAddress);
  enlargeBuffers(dataSock, SOCKET_BUFFER_BYTES);
  // A quarter of what the kernel granted (it counts its own overhead per datagram too): the
  // sender keeps no more than that in flight beyond what this receiver has read.
  const flowWindowBytes = Math.floor(dataSock.getRecvBufferSize() / 4);
  const ctrlSock = dgram.createSocket({ type: 'udp4' });
  await bindSocket(ctrlSock, 0, opts.interfaceAddress);
  enlargeBuffers(ctrlSock, SOCKET_BUFFER_BYTES); // repairs only this receiver lost come here

  // Envelope party id, random and non-zero (0 is the sender's).
  const partyId = randomBytes(4).readUInt32BE(0) || 1;
  const link = wire(opts.key, partyId);
  let seen: string[] = [];
  if (opts.seenSessionsFile) {
    try { seen = readSeenSessions(opts.seenSessionsFile); checkCanReplace(opts.seenSessionsFile); } catch (err) {
      throw new UsageError('seen-sessions', 'a readable file of session ids (or none yet) in a directory this user may write', `${opts.seenSessionsFile}: ${(err as Error).message}`);
    }
  }
  let sourceState: SourceState = { ...EMPTY_SOURCE_STATE };
  if (opts.sourceStateFile) {
    try { sourceState = readSourceState(opts.sourceStateFile); checkCanReplace(opts.sourceStateFile); } catch (err) {
      throw new UsageError('source-state', 'a source state file written by dbcast (or none yet) in a directory this user may write', `${opts.sourceStateFile}: ${(err as Error).message}`);
    }
  }
  let sourceIdentity: SourceIdentity | null = null; // what this run's sender announced, once the guard accepted it
  const session = new ReceiverSession({
    ...RECEIVER_TIMING_DEFAULTS,
    name: opts.name, job: opts.job, flowWindowBytes, random: randomBytes,
    maxClockSkewMs: opts.maxClockSkewMs, seenSessionIds: new Set(seen),
    maxWindowBytes: opts.maxWindowBytes, startTimeoutMs: opts.startTimeoutMs, idleTimeoutMs: opts.idleTimeoutMs,
    ...(opts.senderAddress ? { senderAddress: opts.senderAddress } : {}),
  }, nowMs());
  log.info(`listening for job '${opts.job}' on ${opts.group}:${opts.port} as '${opts.name}'`);

  let sinks = null as SinkStage | null; // opened when the session is joined, so nothing is created for a refused run
  const startSinks = (info: string): SinkStage | null => {
    const si = decodeStreamInfo(info);
    if (!si.ok) { session.handleLocalFailure(DoneStatus.LocalError, `the sender's stream info: ${si.reason}`, -1, nowMs()); return null; }
    if (si.info.compression) log.info(`the stream is ${si.info.compression}-compressed: decompressed and checked before the sinks`);
    return openStage(opts, { log, now: new Date(), restore: readyRestore }, si.info.compression, () => kick());
  };
  let finalizing = null as Promise<SinkFailure[]> | null;
  /** What the sinks said when they finished (a restore's replication coordinates among it). */
  let sinkDetail = null as string | null;
  let sinkFailureReported = false;
  /** Why a compressed stream whose SHA-256 matched did not decompress (decompress.ts). */
  let corruptStream = null as string | null;

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });

  const send = (t: Transmit): void => {
    if (!t.to) return;
    ctrlSock.send(link.out(t.bytes), t.to.port, t.to.address, (err) => { if (err) log.debug(`send failed: ${err.message}`); });
  };

  const restoreOutcome = (): RestoreOutcome => (sinks?.sinks.find((s) => s.restoreOutcome !== undefined)?.restoreOutcome ?? RestoreOutcome.None);

  const finalize = async (): Promise<SinkFailure[]> => {
    const fanout = sinks as SinkStage;
    const failures = await fanout.finish({ sha256: session.stats().sha256 ?? '', bytes: session.bytesDelivered });
    if ('decompressFailure' in fanout && fanout.decompressFailure !== null) {
      // Sent as it was hashed, but not a whole zstd stream of the announced length: a hash failure.
      corruptStream = fanout.decompressFailure;
      log.error(corruptStream);
      session.handleLocalFailure(DoneStatus.HashMismatch, corruptStream, -1, nowMs(), restoreOutcome());
      kick();
      return [];
    }
    if ('plainBytes' in fanout && fanout.plainBytes > 0) log.info(`decompressed ${fanout.plainBytes} bytes into the sinks`);
    const successes = fanout.sinks.filter((s) => s.detail && !fanout.failed(s));
    for (const s of successes) log.info(`${s.label}: ${s.detail}`);
    for (const f of failures) log.error(`${f.label}: ${f.message}`);
    const detail = [...failures.map((f) => `${f.label}: ${f.message}`), ...successes.map((s) => `${s.label}: ${s.detail}`)].join('; ');
    sinkDetail = detail; // whole, for the report: DONE carries only its first MAX_DETAIL_BYTES
    // The exit status of the command that restores (--pipe or the preset's tool), if there is one.
    const commandFailure = failures.find((f) => f.kind === 'pipe' || f.kind === 'restore');
    const exitCode = !opts.pipeCommand && !opts.restore ? -1 : commandFailure ? commandFailure.exitCode : 0;
    session.handleSinksFinished(failures.length === 0, exitCode, detail, nowMs(), restoreOutcome());
    kick();
    return failures;
  };

  const run = (): void => {
    const now = nowMs();
    session.handleTimeout(now);
    if (sinks) {
      if (!sinks.anyLive && !sinkFailureReported && !finalizing) {
        sinkFailureReported = true;
        const f = sinks.failures[0];
        session.handleLocalFailure(DoneStatus.SinkFailed, `${f.label}: ${f.message}`, f.exitCode, now, restoreOutcome());
      }
      let n = 0;
      while (sinks.ready && sinks.anyLive && n < DELIVER_BATCH) {
        const chunk = session.pollDelivery(now);
        if (!chunk) break;
        sinks.write(chunk, now);
        n++;
      }
      sinks.flush(now);
      if (n === DELIVER_BATCH) kick();
      if (session.isVerified && !finalizing) {
        log.info(`stream verified (${session.bytesDelivered} bytes); finishing sinks`);
        finalizing = finalize();
      }
    }
    for (let t = session.pollTransmit(now); t; t = session.pollTransmit(now)) send(t);
    for (let e = session.pollEvent(); e; e = session.pollEvent()) {
      switch (e.type) {
        case 'locked': log.info(`found session ${e.sessionId} from ${e.sender}; joining`); break;
        case 'announce-refused': log.warn(`ignoring ${e.sessionId ? `session ${e.sessionId} of ` : ''}sender ${e.sender}: ${e.reason}`); break;
        case 'joined': {
          log.info(`joined session ${e.sessionId}`);
          // Not locked to this session before the stream verified: a rival's sealed announce must still open.
          const info = decodeStreamInfo(e.info);
          const verdict = guardSource(info.ok ? info.info.source : undefined, sourceState.accepted, { allowReplicaSource: opts.allowReplicaSource },
            opts.acceptNewSource ? {} : sourceState.acceptNext);
          if (!verdict.accept) {
            log.error(`refusing the source (${verdict.outcome}): ${verdict.reason}; joining only to report it`);
            session.handleLocalFailure(verdict.outcome === 'split-brain' ? DoneStatus.SplitBrain : DoneStatus.StaleSource, `${verdict.outcome}: ${verdict.reason}`, -1, now);
            break;
          }
          sourceIdentity = verdict.identity;
          log.info(verdict.note);
          if (preflightFailure) session.handleLocalFailure(DoneStatus.PreflightFailed, preflightFailure, -1, now, opts.restore ? RestoreOutcome.KeptOld : RestoreOutcome.None);
          else sinks ??= startSinks(e.info);
          break;
        }
        case 'rival': log.error(`${e.reason}: nothing from either is delivered`); break;
        case 'verified': { const sid = session.stats().sessionId; if (sid) link.lock(sid); break; }
        case 'finished': break;
      }
    }
    if (session.isFinished) { finish(); return; }
    const later = nowMs();
    driver.arm(Math.min(session.pollTimeoutMs(later), sinks ? sinks.flushDueInMs(later) : Infinity));
  };
  const driver = new Driver(run, nowMs);
  const kick = driver.kick;

  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const packet = link.in(msg);
    if (packet) { session.handlePacket(packet, rinfo, nowMs()); kick(); }
  };
  dataSock.on('message', onMessage);
  ctrlSock.on('message', onMessage);
  dataSock.on('error', (err) => log.error(`socket error: ${err.message}`));
  ctrlSock.on('error', (err) => log.error(`socket error: ${err.message}`));

  const undoSignals = onInterrupt((sig) => {
    log.warn(`${sig}: giving up on this transfer (again to quit at once)`);
    session.handleLocalFailure(DoneStatus.LocalError, `receiver interrupted by ${sig}`, -1, nowMs());
    kick();
  }, EXIT.INTERNAL);

  kick();
  const stopProgress = startProgress((sec) => {
    const st = session.stats();
    return `dbcast receive: ${mib(st.bytesDelivered)} MiB${st.totalBytes ? ` of ${mib(st.totalBytes)}` : ''}, ${mib(st.bytesDelivered / Math.max(sec, 0.001))} MiB/s, ${st.repairsRequested} repairs asked`;
  });
  await finished;
  stopProgress();
  undoSignals();
  driver.stop();
  let outcome = session.result ?? { code: 'local-error' as const, message: 'no outcome' };
  if (finalizing) {
    // The stream was verified: sinks complete on their own terms, whatever the sender does.
    const failures = await finalizing;
    if (outcome.code === 'timeout' && failures.length === 0 && corruptStream === null) {
      log.warn('the sender went silent after the stream was verified; the result could not be reported to it');
      outcome = { code: 'ok', message: 'stream verified (not confirmed by the sender)' };
    }
  } else if (sinks) {
    await sinks.abort(); // not verified: no partial file under a final name, no restore left running
  }
  dataSock.close();
  ctrlSock.close();
  const stats = session.stats();
  const summary = `${outcome.code}: ${outcome.message}; ${stats.bytesDelivered} bytes, ${stats.repairsRequested} repairs asked` +
    (Object.keys(stats.dropped).length ? `, dropped packets ${JSON.stringify(stats.dropped)}` : '') +
    (Object.keys(link.dropped).length ? `, rejected by the key ${JSON.stringify(link.dropped)}` : '');
  const restoreName = RESTORE_OUTCOME_NAMES[restoreOutcome()];
  const fields = { session: stats.sessionId, outcome: outcome.code, exitCode: restoreOutcome() === RestoreOutcome.RollbackFailed ? EXIT.ROLLBACK_FAILED : EXIT_BY_OUTCOME[outcome.code], bytes: stats.bytesDelivered, durationSec: Math.round((nowMs() - startedAtMs) / 100) / 10, restore: restoreName };
  const line = `${summary}${restoreName ? `, restore ${restoreName}` : ''}`;
  if (outcome.code === 'ok') log.info(line, fields); else log.error(line, fields);
  // A server left down outweighs how the transfer ended.
  const exitCode = restoreOutcome() === RestoreOutcome.RollbackFailed ? EXIT.ROLLBACK_FAILED : EXIT_BY_OUTCOME[outcome.code];
  if (opts.seenSessionsFile && stats.sessionId && stats.sha256 && finalizing) {
    // Verified here: the same session announced again later is a replay.
    try { addSeenSession(opts.seenSessionsFile, stats.sessionId); } catch (err) { log.error(`could not record session ${stats.sessionId} in ${opts.seenSessionsFile}: ${(err as Error).message}`); }
  }
  if (opts.sourceStateFile && outcome.code === 'ok' && finalizing) {
    // Verified and every sink succeeded: this source is the job's truth from now on.
    const next: SourceState = { accepted: sourceIdentity ?? sourceState.accepted, acceptedAtMs: sourceIdentity ? Date.now() : sourceState.acceptedAtMs,
      session: sourceIdentity ? stats.sessionId : sourceState.session, acceptNext: null };
    try { writeSourceState(opts.sourceStateFile, next); } catch (err) { log.error(`could not record the source in ${opts.sourceStateFile}: ${(err as Error).message}`); }
  }
  if (opts.reportFile) {
    const restore = sinks?.sinks.find((s) => s.restoreOutcome !== undefined);
    writeJsonFile(opts.reportFile, {
      role: 'receive', job: opts.job, name: opts.name, ...stats, keyed: link.keyed, rejectedByKey: link.dropped, outcome: outcome.code, message: outcome.message, exitCode,
      restore: restore ? RESTORE_OUTCOME_NAMES[restore.restoreOutcome as RestoreOutcome] : null,
      source: sourceIdentity, sinkDetail,
      startedAtMs, endedAtMs: nowMs(),
    });
  }
  return exitCode;
}
