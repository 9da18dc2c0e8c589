// --restore mariadb: the verified stream goes into a staging schema (<db>__incoming) through
// the mariadb client, with statements that name a database filtered out; it replaces the
// live schema (my-swap.ts) only after the SHA-256 matched and the client exited 0. Any
// failure drops the staging schema and leaves the live one as it was.
import type { Logger } from '../../src/log';
import { RestoreOutcome } from '../../protocol';
import type { Sink, SinkFailure } from '../sinks/sink';
import { LineFilter } from './line-filter';
import { mariadbDumpJudge } from './mariadb-dump-filter';
import { MyClient, myConnArgs } from './my-client';
import { PartialSwapError, swapMariadb } from './my-swap';
import { myIdent, sqlLiteral, stagingName, type RestoreTarget } from './target';
import { describeExit, StreamingTool } from './tool';

export class MariadbRestoreSink implements Sink {
  readonly label: string;
  detail: string | undefined;
  restoreOutcome = RestoreOutcome.KeptOld;
  private state: 'preparing' | 'streaming' | 'failed' | 'closed' = 'preparing';
  private held: Buffer[] = [];
  private restore: StreamingTool | null = null;
  private readonly filter: LineFilter;
  private readonly client: MyClient;
  private stagingCreated = false;
  private failure: SinkFailure | null = null;
  private failureCb: ((f: SinkFailure) => void) | null = null;
  private drainCb: (() => void) | null = null;
  private finishing = false;
  private readonly notes: string[] = [];
  private readonly prepared: Promise<void>;

  constructor(private readonly target: RestoreTarget, clientBin: string, private readonly log: Logger) {
    this.label = `--restore mariadb ${target.database}`;
    this.client = new MyClient(clientBin, target.conn);
    this.filter = new LineFilter(mariadbDumpJudge(target.stripReplication));
    this.prepared = this.prepare();
  }

  private fail(message: string, exitCode = -1, liveUntouched = true): void {
    if (this.failure) return;
    this.state = 'failed';
    this.failure = { label: this.label, message: liveUntouched ? `${message}; ${this.target.database} left as it was` : message, exitCode };
    this.held = [];
    void this.restore?.kill();
    this.failureCb?.(this.failure);
  }

  private async prepare(): Promise<void> {
    const { database, conn, restoreArgs } = this.target;
    const staging = stagingName(database);
    try {
      const rows = await this.client.query('reading the server', [
        `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(staging)};`,
        `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(database)};`,
      ].join('\n'));
      if (rows[0][0] !== '0') {
        this.log.warn(`dropping ${staging}, left over from an earlier run that did not finish`);
        this.notes.push(`dropped a leftover ${staging}`);
        await this.client.exec(`dropping the leftover ${staging}`, [`DROP DATABASE ${myIdent(staging)}`]);
      }
      if (this.state !== 'preparing') return;
      // Same character set and collation as the live schema, so unqualified CREATE TABLEs match it.
      const options = rows[1] ? ` CHARACTER SET ${rows[1][0]} COLLATE ${rows[1][1]}` : '';
      await this.client.exec(`creating ${staging}`, [`CREATE DATABASE ${myIdent(staging)}${options}`]);
      this.stagingCreated = true;
      if (this.state !== 'preparing') return;
      const restore = new StreamingTool(this.client.bin, [...myConnArgs(conn), `--database=${staging}`, ...restoreArgs]);
      this.restore = restore;
      void restore.exited.then((r) => {
        if (!this.finishing) this.fail(`${this.client.bin} ${describeExit(r)} before the stream ended: ${r.stderr}`, r.code ?? -1);
      });
      restore.child.stdin?.on('drain', () => this.drainCb?.());
      this.log.info(`restoring into ${staging}`);
      this.state = 'streaming';
      const held = this.held; this.held = [];
      for (const chunk of held) this.writeOut(chunk);
      this.drainCb?.();
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private writeOut(chunk: Buffer): boolean {
    let ok = true;
    for (const piece of this.filter.push(chunk)) ok = (this.restore as StreamingTool).write(piece);
    if (this.filter.failure) this.fail(this.filter.failure);
    return ok;
  }

  write(chunk: Buffer): boolean {
    if (this.state === 'streaming') return this.writeOut(chunk);
    if (this.state === 'preparing') { this.held.push(chunk); return false; }
    return true;
  }

  onDrain(cb: () => void): void { this.drainCb = cb; }
  onFailure(cb: (f: SinkFailure) => void): void { this.failureCb = cb; }

  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    await this.prepared;
    if (this.failure) { await this.cleanup(); return this.failure; }
    const restore = this.restore as StreamingTool;
    for (const piece of this.filter.end()) restore.write(piece);
    const r = await restore.end();
    if (r.code !== 0) {
      this.fail(`${this.client.bin} ${describeExit(r)}: ${r.stderr}`, r.code ?? -1);
      await this.cleanup();
      return this.failure;
    }
    try {
      this.detail = [await swapMariadb(this.client, this.target.database), ...this.notes].join('; ');
      this.restoreOutcome = RestoreOutcome.Swapped;
      this.state = 'closed';
      this.stagingCreated = false;
      return null;
    } catch (err) {
      const partial = err instanceof PartialSwapError;
      if (partial) this.restoreOutcome = RestoreOutcome.Partial;
      this.fail((err as Error).message, -1, !partial);
      await this.cleanup();
      return this.failure;
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed') return;
    this.fail('the stream was not verified');
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    await this.restore?.kill();
    await this.prepared;
    if (!this.stagingCreated) return;
    this.stagingCreated = false;
    const staging = stagingName(this.target.database);
    await this.client.exec(`dropping ${staging}`, [`DROP DATABASE IF EXISTS ${myIdent(staging)}`])
      .catch((err: Error) => this.log.error(`could not drop ${staging}: ${err.message} (the next run drops it)`));
  }
}
