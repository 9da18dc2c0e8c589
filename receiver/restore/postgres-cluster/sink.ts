// --restore postgres-cluster: the base backup's tar stream is extracted into DIR.incoming (0700,
// the cluster owner's) as it arrives; nothing starts from it before the stream's SHA-256 matched
// (which also means the sender's pg_basebackup exited 0). Then: the backup is checked (a whole
// data directory, WAL included, same major version), the live cluster's own configuration files
// are copied in, the recovery settings written, and the server swap runs (server-swap/swap.ts).
// A stream that fails or is not verified removes DIR.incoming; the live cluster is not touched.
import * as fs from 'fs';
import * as path from 'path';
import { RestoreOutcome } from '../../../protocol';
import type { Logger } from '../../../runtime/log';
import type { Sink, SinkFailure } from '../../sinks/sink';
import { removeTree } from '../server-swap/dirs';
import { swapDataDir } from '../server-swap/swap';
import { BaseBackupPolicy, baseBackupProblem } from './backup-policy';
import { PgClusterControl, readSystemId } from './control';
import type { PgClusterReady } from './options';
import { DROPPED_FILES, KEPT_FILES, recoverySettings, withSettings } from './recovery';
import { TarExtractor } from './tar-extractor';

const OUTCOMES = { 'swapped': RestoreOutcome.Swapped, 'kept-old': RestoreOutcome.KeptOld, 'rollback-failed': RestoreOutcome.RollbackFailed } as const;

export class PgClusterSink implements Sink {
  readonly label: string;
  detail: string | undefined;
  restoreOutcome = RestoreOutcome.KeptOld;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private readonly extractor: TarExtractor | null = null;
  private readonly policy: BaseBackupPolicy;
  private stagingMade = false;
  private done = false;

  constructor(private readonly t: PgClusterReady, private readonly log: Logger) {
    this.label = '--restore postgres-cluster'; // the report's detail is short: the data directory is in the log
    this.policy = new BaseBackupPolicy(t.liveMajor);
    try {
      this.makeStaging();
      const x = new TarExtractor(t.staging, this.policy, t.actAsOwner ? t.owner : null);
      x.onFailure((m) => this.fail(`receive: ${m}`));
      this.extractor = x;
      log.info(`extracting the stream into ${t.staging} (nothing starts from it before it is verified)`);
    } catch (err) {
      this.failure = { kind: 'restore', label: this.label, message: `cannot create ${t.staging}: ${(err as Error).message}; ${t.dataDir} left as it was`, exitCode: -1 };
    }
  }

  /** A leftover from a run that crashed is removed; the new one is ours alone (0700). */
  private makeStaging(): void {
    const { staging, owner, actAsOwner } = this.t;
    const st = fs.lstatSync(staging, { throwIfNoEntry: false });
    if (st) {
      if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`${staging} exists and is not a directory`);
      this.log.warn(`removing ${staging}, left over from an earlier run that did not finish`);
      fs.rmSync(staging, { recursive: true, force: true });
    }
    fs.mkdirSync(staging, { mode: 0o700 });
    this.stagingMade = true;
    fs.chmodSync(staging, 0o700);
    if (actAsOwner) fs.chownSync(staging, owner.uid, owner.gid);
  }

  onDrain(cb: () => void): void { this.extractor?.onDrain(cb); }
  onFailure(cb: (f: SinkFailure) => void): void {
    this.failureCb = cb;
    const early = this.failure;
    if (early) setImmediate(() => cb(early));
  }

  write(chunk: Buffer): boolean {
    if (this.failure || !this.extractor) return true;
    return this.extractor.write(chunk);
  }

  private fail(message: string, liveUntouched = true): void {
    if (this.failure) return;
    this.failure = { kind: 'restore', label: this.label, message: liveUntouched ? `${message}; the live cluster left as it was` : message, exitCode: -1 };
    this.log.error(`${this.label}: ${message}`);
    this.failureCb?.(this.failure);
  }

  async finish(): Promise<SinkFailure | null> {
    if (this.done) return this.failure;
    this.done = true;
    const x = this.extractor;
    if (this.failure || !x) { await this.cleanup(); return this.failure; }
    const err = await x.end();
    if (err) { this.fail(`receive: ${err}`); await this.cleanup(); return this.failure; }
    const problem = baseBackupProblem(x.summary);
    if (problem) { this.fail(`check-backup: ${problem}`); await this.cleanup(); return this.failure; }
    this.log.info(`stream verified and extracted: ${x.summary.files} files, ${x.summary.dataBytes} bytes (PostgreSQL ${this.policy.backupMajor})`);
    const control = new PgClusterControl(this.t, this.log);
    try {
      control.expect = await this.prepareStaging();
    } catch (err) {
      this.fail(`prepare-staging: ${(err as Error).message}`);
      await this.cleanup();
      return this.failure;
    }
    const r = await swapDataDir({ live: this.t.dataDir, staging: this.t.staging, previous: this.t.previous, failed: this.t.failed, control, log: this.log });
    this.restoreOutcome = OUTCOMES[r.outcome];
    if (r.outcome === 'swapped') {
      this.stagingMade = false; // it is the live directory now
      this.detail = r.detail;
      return null;
    }
    this.fail(r.detail, false);
    await this.cleanup();
    return this.failure;
  }

  /** The live cluster's own files into the copy, and what it starts as. Returns what to expect of it. */
  private async prepareStaging(): Promise<{ newSystemId: string; afterPromotion: () => Promise<void> }> {
    const { dataDir, staging, keepFiles } = this.t;
    const kept: string[] = [];
    for (const f of DROPPED_FILES) await fs.promises.rm(path.join(staging, f), { force: true });
    for (const f of [...KEPT_FILES, ...keepFiles]) {
      const from = path.join(dataDir, f);
      const st = await fs.promises.lstat(from).catch(() => null);
      if (!st?.isFile()) continue;
      await this.writeOwned(path.join(staging, f), await fs.promises.readFile(from), st.mode & 0o777);
      kept.push(f);
    }
    this.log.info(`kept the live cluster's ${kept.join(', ') || '(no files)'} in the copy`);
    const rs = recoverySettings(this.t);
    const autoConf = path.join(staging, 'postgresql.auto.conf');
    const original = await fs.promises.readFile(autoConf, 'utf8').catch(() => '');
    await this.writeOwned(autoConf, withSettings(original, rs.settings), 0o600);
    await this.writeOwned(path.join(staging, rs.signal), '', 0o600);
    this.log.info(`wrote ${rs.signal} and ${Object.keys(rs.settings).join(', ')} into postgresql.auto.conf`);
    const afterPromotion = async (): Promise<void> => {
      if (!rs.temporary) return;
      // The promotion is done: the recovery target must not outlive it (see recovery.ts).
      await this.writeOwned(path.join(dataDir, 'postgresql.auto.conf'), original, 0o600).catch((err: Error) => {
        this.log.warn(`could not put postgresql.auto.conf back without the recovery settings: ${err.message}`);
      });
    };
    return { newSystemId: readSystemId(staging), afterPromotion };
  }

  /** Write through a temp name and rename (never through a symlink), owned by the cluster's owner. */
  private async writeOwned(file: string, data: string | Buffer, mode: number): Promise<void> {
    const tmp = `${file}.dbcast-tmp`;
    await fs.promises.rm(tmp, { force: true });
    const fh = await fs.promises.open(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, mode);
    try {
      await fh.writeFile(data);
      if (this.t.actAsOwner) await fh.chown(this.t.owner.uid, this.t.owner.gid);
      await fh.sync();
    } finally { await fh.close(); }
    await fs.promises.rename(tmp, file);
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.fail('receive: the stream was not verified');
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    await this.extractor?.stop();
    if (!this.stagingMade) return;
    this.stagingMade = false;
    await removeTree(this.t.staging).catch((err: Error) => this.log.error(`could not remove ${this.t.staging}: ${err.message} (the next run removes it)`));
  }
}
