// What the PostgreSQL and MariaDB presets share: the failure record (reported once, always
// "left as it was" unless the swap got half way), the swap step, and the cleanup that drops
// the staging database whatever went wrong. Subclasses bring the streaming and the SQL.
import { RestoreOutcome } from '../../protocol';
import type { Logger } from '../../runtime/log';
import type { Sink, SinkFailure, Verified } from '../sinks/sink';
import { PartialSwapError } from './swap-error';
import { Spool } from './spool';
import { stagingName, type RestoreTarget } from './target';

export abstract class StagingSink<Target extends RestoreTarget = RestoreTarget> implements Sink {
  abstract readonly label: string;
  detail: string | undefined;
  restoreOutcome = RestoreOutcome.KeptOld;
  protected failure: SinkFailure | null = null;
  protected drainCb: (() => void) | null = null;
  protected finishing = false;
  protected stagingCreated = false;
  protected readonly notes: string[] = [];
  /** The staging database's creation; the cleanup waits for it before dropping. */
  protected prepared: Promise<void> = Promise.resolve();
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private closed = false;

  constructor(protected readonly target: Target, protected readonly log: Logger) {}

  abstract write(chunk: Buffer): boolean;
  abstract finish(verified: Verified): Promise<SinkFailure | null>;
  /** Stop feeding and kill the restore tools (the failure is already recorded). */
  protected abstract stopTools(): void;
  /** Await the tools' exit and remove local files (spools). */
  protected abstract releaseLocal(): Promise<void>;
  protected abstract dropStaging(): Promise<void>;

  /** The verified-first default: a spool for the stream, or null with the failure recorded. */
  protected openSpool(): Spool | null {
    try {
      const spool = new Spool(this.target.spoolDir, `dbcast-${this.target.database}`);
      spool.onError((m) => this.fail(m));
      spool.onDrain(() => this.drainCb?.());
      return spool;
    } catch (err) {
      this.failure = { kind: 'restore', label: this.label, message: `cannot spool in ${this.target.spoolDir}: ${(err as Error).message}; ${this.target.database} left as it was`, exitCode: -1 };
      return null;
    }
  }

  onDrain(cb: () => void): void { this.drainCb = cb; }
  onFailure(cb: (f: SinkFailure) => void): void {
    this.failureCb = cb;
    const early = this.failure; // failed in the constructor (no spool): say so at once
    if (early) setImmediate(() => cb(early));
  }

  protected fail(message: string, exitCode = -1, liveUntouched = true): void {
    if (this.failure) return;
    this.failure = { kind: 'restore', label: this.label, message: liveUntouched ? `${message}; ${this.target.database} left as it was` : message, exitCode };
    this.stopTools();
    this.failureCb?.(this.failure);
  }

  /** The restore tool succeeded: swap staging in, or record why not; then clean up. */
  protected async swapOrFail(swap: () => Promise<string>): Promise<SinkFailure | null> {
    try {
      this.detail = [await swap(), ...this.notes].join('; ');
      this.restoreOutcome = RestoreOutcome.Swapped;
      this.closed = true;
      this.stagingCreated = false; // it is the live database now
    } catch (err) {
      const partial = err instanceof PartialSwapError;
      if (partial) this.restoreOutcome = RestoreOutcome.Partial;
      this.fail((err as Error).message, -1, !partial);
    }
    await this.cleanup();
    return this.failure;
  }

  async abort(): Promise<void> {
    if (this.closed) return;
    this.fail('the stream was not verified');
    await this.cleanup();
  }

  protected async cleanup(): Promise<void> {
    await this.releaseLocal();
    await this.prepared; // a CREATE DATABASE in flight must land before the drop
    if (!this.stagingCreated) return;
    this.stagingCreated = false;
    await this.dropStaging().catch((err: Error) => {
      this.log.error(`could not drop ${stagingName(this.target.database)}: ${err.message} (the next run drops it)`);
    });
  }
}
