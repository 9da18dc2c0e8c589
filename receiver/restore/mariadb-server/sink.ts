// --restore mariadb-server: a mariabackup xbstream becomes the server's whole data directory.
// The stream is spooled (0600) and extracted with mbstream once its SHA-256 matched (or, with
// --restore-while-receiving, extracted as it arrives) into DIR.incoming beside the live
// directory; then mariabackup --prepare, the version check, ownership, and the swap shared with
// the PostgreSQL preset (server-swap/swap.ts, driven through control.ts).
// Nothing is stopped or started before the stream verified and the copy prepared.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { RestoreOutcome } from '../../../protocol';
import type { Logger } from '../../../runtime/log';
import type { Sink, SinkFailure } from '../../sinks/sink';
import { Spool } from '../spool';
import { describeExit, runTool, StreamingTool, type ToolResult } from '../tool';
import {
  BACKUP_INFO_FILES, BINLOG_INFO_FILES, describePosition, parseBackupInfo, parseBinlogInfo, versionProblem, type BinlogPosition,
} from './backup-info';
import { CARRIED_OVER, chownTree, failedDir, previousDir, stagingDir } from './datadir';
import { readReplicaPassword } from './options';
import type { MariadbServerReady } from './preflight';
import { startReplica } from './replica';
import { ServerCheck } from './server';
import { MariadbControl } from './control';
import { swapDataDir, type Step as SwapStep } from '../server-swap/swap';

/** The steps before the swap, as the report names them. */
type Step = 'spool' | 'extract' | 'read the backup' | 'prepare' | 'binlog position' | 'ownership' | 'replica';

/** The shared swap's steps as this preset's report has always named them. */
const SWAP_STEP_NAMES: Record<SwapStep, string> = {
  'remove-old-previous': 'remove the previous copy', 'stop': 'stop', 'move-live-to-previous': 'move the live data directory aside',
  'move-staging-to-live': 'move the copy into place', 'start': 'start', 'check': 'check',
};

class StepError extends Error { constructor(readonly step: Step, message: string, readonly exitCode = -1) { super(message); } }

export class MariadbServerSink implements Sink {
  readonly label: string;
  detail: string | undefined;
  restoreOutcome = RestoreOutcome.KeptOld;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private drainCb: (() => void) | null = null;
  private readonly spool: Spool | null = null;
  private extractor: StreamingTool | null = null;
  private held: Buffer[] = [];
  private finishing = false;
  private done = false;
  /** The server was stopped (whatever came of it): the message says what state it is in. */
  private swapTried = false;
  /** Stale copies removed and the staging directory created. */
  private readonly prepared: Promise<void>;
  private readonly staged: string;

  constructor(private readonly r: MariadbServerReady, private readonly log: Logger) {
    const t = r.target;
    this.label = '--restore mariadb-server'; // short: the report that reaches the sender has 255 bytes
    this.staged = stagingDir(t.dataDir);
    if (!t.whileReceiving) {
      try {
        this.spool = new Spool(t.spoolDir, 'dbcast-mariadb-server');
        this.spool.onError((m) => this.fail('spool', m));
        this.spool.onDrain(() => this.drainCb?.());
      } catch (err) {
        this.failure = this.failureOf('spool', `cannot spool in ${t.spoolDir}: ${(err as Error).message}`);
      }
    }
    this.prepared = this.prepareStaging();
  }

  private failureOf(step: string, message: string, exitCode = -1): SinkFailure {
    const live = this.swapTried ? '' : ` (${this.r.target.dataDir} left as it was)`;
    return { kind: 'restore', label: this.label, message: `step '${step}' failed${live}: ${message}`, exitCode };
  }

  private fail(step: string, message: string, exitCode = -1): void {
    if (this.failure) return;
    this.failure = this.failureOf(step, message, exitCode);
    this.held = [];
    void this.extractor?.kill();
    this.failureCb?.(this.failure);
  }

  /** A stale staged copy (a run that died) and the previous copy of the last swap go first:
   *  the live directory stays the fallback until the next swap. */
  private async prepareStaging(): Promise<void> {
    const { dataDir } = this.r.target;
    try {
      for (const stale of [this.staged, previousDir(dataDir)]) {
        if (fs.existsSync(stale)) {
          this.log.info(`mariadb-server: removing ${stale} (room for the new copy)`);
          await fs.promises.rm(stale, { recursive: true, force: true });
        }
      }
      await fs.promises.mkdir(this.staged, { mode: 0o700 });
      if (this.r.target.whileReceiving && !this.failure) this.startExtractor();
    } catch (err) {
      this.fail('extract', `cannot create ${this.staged}: ${(err as Error).message}`);
    }
  }

  /** mbstream -x reading the stream on stdin (--restore-while-receiving). */
  private startExtractor(): void {
    const x = new StreamingTool('mbstream', ['-x', '-C', this.staged]);
    this.extractor = x;
    void x.exited.then((res) => { if (!this.finishing) this.fail('extract', `mbstream ${describeExit(res)} before the stream ended: ${res.stderr}`, res.code ?? -1); });
    x.child.stdin?.on('drain', () => this.drainCb?.());
    this.log.info(`mariadb-server: extracting into ${this.staged} as the stream arrives`);
    const held = this.held; this.held = [];
    for (const c of held) x.write(c);
    this.drainCb?.();
  }

  onDrain(cb: () => void): void { this.drainCb = cb; }
  onFailure(cb: (f: SinkFailure) => void): void {
    this.failureCb = cb;
    const early = this.failure;
    if (early) setImmediate(() => cb(early));
  }

  write(chunk: Buffer): boolean {
    if (this.failure) return true;
    if (this.spool) return this.spool.write(chunk);
    if (this.extractor) return this.extractor.write(chunk);
    this.held.push(chunk);
    return false;
  }

  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    try {
      if (this.failure) throw null;
      await this.extract();
      const { info, position } = await this.readAndPrepare();
      await this.fixOwnership();
      await this.swap(info, position);
    } catch (err) {
      if (err instanceof StepError) this.fail(err.step, err.message, err.exitCode);
      else if (err !== null) this.fail('extract', (err as Error).message);
    }
    await this.cleanup();
    return this.failure;
  }

  private async extract(): Promise<void> {
    await this.prepared;
    if (this.failure) throw null;
    let res: ToolResult;
    if (this.spool) {
      try { await this.spool.complete(); } catch (err) { throw new StepError('spool', (err as Error).message); }
      this.log.info(`mariadb-server: stream verified; extracting into ${this.staged}`);
      res = await extractFile(this.spool.path, this.staged);
      await this.spool.remove();
    } else {
      res = await (this.extractor as StreamingTool).end();
    }
    if (res.code !== 0) throw new StepError('extract', `mbstream ${describeExit(res)}: ${res.stderr}`, res.code ?? -1);
  }

  private async readAndPrepare(): Promise<{ info: Record<string, string>; position: BinlogPosition | null }> {
    const t = this.r.target;
    const infoFile = BACKUP_INFO_FILES.map((f) => path.join(this.staged, f)).find((f) => fs.existsSync(f));
    if (!infoFile) throw new StepError('read the backup', `the stream holds no ${BACKUP_INFO_FILES.join(' or ')}: not a mariabackup --backup --stream=xbstream`);
    const info = parseBackupInfo(fs.readFileSync(infoFile, 'utf8'));
    const vp = versionProblem(info, this.r.toolVersion, this.r.liveVersion);
    if (vp) throw new StepError('read the backup', vp);
    this.log.info(`mariadb-server: preparing the copy (mariabackup --prepare; backup of MariaDB ${info.server_version ?? info.tool_version})`);
    const prep = await runTool('mariabackup', ['--prepare', `--target-dir=${this.staged}`], undefined, 0);
    if (prep.code !== 0) throw new StepError('prepare', `mariabackup --prepare ${describeExit(prep)}: ${prep.stderr}`, prep.code ?? -1);
    const binlogFile = BINLOG_INFO_FILES.map((f) => path.join(this.staged, f)).find((f) => fs.existsSync(f));
    let position: BinlogPosition | null = null;
    if (binlogFile) {
      const p = parseBinlogInfo(fs.readFileSync(binlogFile, 'utf8'));
      if ('reason' in p) throw new StepError('binlog position', p.reason);
      position = p;
    }
    this.log.info(`mariadb-server: the copy is at ${describePosition(position)}`);
    if (t.replica && !position?.gtid) throw new StepError('binlog position', 'the backup has no GTID position (the primary needs log-bin) and --as-replica starts replication from it');
    return { info, position };
  }

  /** Files the backup lacks and the live directory has (Debian's flag file), then owner and mode. */
  private async fixOwnership(): Promise<void> {
    const { dataDir } = this.r.target;
    try {
      for (const name of fs.readdirSync(dataDir)) {
        if (CARRIED_OVER.some((re) => re.test(name)) && !fs.existsSync(path.join(this.staged, name))) {
          await fs.promises.copyFile(path.join(dataDir, name), path.join(this.staged, name), fs.constants.COPYFILE_EXCL);
        }
      }
      const { uid, gid, mode } = this.r.owner;
      await chownTree(this.staged, uid, gid);
      await fs.promises.chmod(this.staged, mode);
    } catch (err) {
      throw new StepError('ownership', (err as Error).message);
    }
  }

  private async swap(info: Record<string, string>, position: BinlogPosition | null): Promise<void> {
    const t = this.r.target;
    const check = new ServerCheck(this.r.clientBin, t.conn);
    this.swapTried = true;
    const control = new MariadbControl(t, check, this.log);
    const result = await swapDataDir({ live: t.dataDir, staging: this.staged, previous: previousDir(t.dataDir), failed: failedDir(t.dataDir), control, log: this.log });
    if (result.outcome !== 'swapped') {
      this.restoreOutcome = result.outcome === 'kept-old' ? RestoreOutcome.KeptOld : RestoreOutcome.RollbackFailed;
      if (result.outcome === 'rollback-failed') this.log.error(`mariadb-server: ${result.state}`);
      // The state first: the report that reaches the sender keeps only the first 255 bytes.
      const step = result.failedStep ? SWAP_STEP_NAMES[result.failedStep] : 'swap';
      this.fail(step, `${result.state}: ${result.why ?? ''}${result.serverLog ? `; server log: ${result.serverLog}` : ''}`);
      return;
    }
    this.restoreOutcome = RestoreOutcome.Swapped;
    // Most useful first: the report that reaches the sender keeps 255 bytes.
    const version = /^[\d.]+/.exec(info.server_version ?? '')?.[0] ?? '?';
    const parts = [`swapped in the copy at ${describePosition(position)} (MariaDB ${version}, taken ${info.end_time ?? '?'})`];
    const kept = `old data directory kept as ${path.basename(previousDir(t.dataDir))}`;
    if (t.replica && position) {
      try {
        parts.push(await startReplica(check, t.replica, readReplicaPassword(t.replica.passwordFile), position.gtid, t.checkTimeoutMs, this.log));
      } catch (err) {
        // The copy is verified and serving; the replication is what failed: reported as a
        // failure of this receiver, without rolling back a good copy (README).
        this.detail = [...parts, kept].join('; ');
        throw new StepError('replica', `${(err as Error).message} (the new copy is in place and answers)`);
      }
    }
    this.detail = [...parts, kept].join('; ');
    this.done = true;
  }

  private async cleanup(): Promise<void> {
    await this.extractor?.kill();
    await this.spool?.remove();
    await this.prepared;
    if (fs.existsSync(this.staged)) {
      await fs.promises.rm(this.staged, { recursive: true, force: true }).catch((err: Error) => {
        this.log.error(`could not remove ${this.staged}: ${err.message} (the next run removes it)`);
      });
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.fail('receive', 'the stream was not verified (cut, aborted or its SHA-256 did not match)');
    await this.cleanup();
  }
}

/** mbstream -x with the spool file as its stdin. */
function extractFile(file: string, dir: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    const fd = fs.openSync(file, 'r');
    const child = spawn('mbstream', ['-x', '-C', dir], { stdio: [fd, 'ignore', 'pipe'] });
    fs.closeSync(fd);
    let err = '';
    child.stderr?.on('data', (d: Buffer) => { if (err.length < 4096) err += d.toString(); });
    child.once('error', (e) => resolve({ code: null, signal: null, stdout: '', stderr: e.message }));
    child.once('close', (code, signal) => resolve({ code, signal, stdout: '', stderr: err.trim().split('\n').slice(-4).join('\n') }));
  });
}
