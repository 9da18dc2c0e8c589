// --restore mariadb: the stream goes into a staging schema (<db>__incoming) through the mariadb
// client, with statements that name a database filtered out; it replaces the live schema
// (swap.ts) only after the SHA-256 matched and the client exited 0. Any failure drops the
// staging schema and leaves the live one as it was.
//
// Default: spooled (0600, fsynced) and fed to the client only once verified; with --jobs N > 1
// the verified spool is split at its table sections and N tables are imported at once
// (split.ts, parallel-import.ts). With --restore-while-receiving, fed as it arrives. Either way
// the client runs with --sandbox when it has it (no shell escapes, no file access), and as
// --restore-user when given. The dump's replication coordinates go into the detail.
import type { Logger } from '../../../runtime/log';
import type { SinkFailure } from '../../sinks/sink';
import { LineFilter } from '../line-filter';
import { mariadbDumpJudge } from './dump-filter';
import { clientMessage, MyClient, myConnArgs } from './client';
import { describeCoordinates, parseCoordinates } from './coordinates';
import { EndsCapture, readEnds } from './dump-ends';
import { ParallelImport } from './parallel-import';
import { splitDump } from './split';
import { swapMariadb } from './swap';
import { Spool } from '../spool';
import { StagingSink } from '../staging-sink';
import type { MariadbReady } from './options';
import { myIdent, sqlLiteral, stagingName, type RestoreTarget } from '../target';
import { describeExit, StreamingTool } from '../tool';

type Target = MariadbReady['target'];

export class MariadbRestoreSink extends StagingSink<Target> {
  readonly label: string;
  private state: 'spooling' | 'preparing' | 'streaming' | 'failed' = 'preparing';
  private held: Buffer[] = [];
  private restore: StreamingTool | null = null;
  private readonly spool: Spool | null = null;
  private readonly filter: LineFilter;
  private readonly judge: (line: string) => ReturnType<ReturnType<typeof mariadbDumpJudge>>;
  private readonly client: MyClient;
  private parallel: ParallelImport | null = null;
  /** --restore-while-receiving: the dump's first and last bytes, for its coordinates. */
  private readonly ends = new EndsCapture();

  /** importArgs: what the preflight found the client supports (--sandbox). */
  constructor(target: Target, clientBin: string, private readonly importArgs: string[], log: Logger) {
    super(target, log);
    this.label = `--restore mariadb ${target.database}`;
    this.client = new MyClient(clientBin, target.conn);
    this.judge = mariadbDumpJudge(target.stripReplication);
    this.filter = new LineFilter(this.judge);
    if (target.whileReceiving) { this.prepared = this.prepare(); return; }
    this.spool = this.openSpool();
    this.state = this.spool ? 'spooling' : 'failed';
  }

  protected stopTools(): void {
    this.state = 'failed';
    this.held = [];
    void this.restore?.kill();
    void this.parallel?.kill();
  }

  protected async releaseLocal(): Promise<void> {
    await Promise.all([this.restore?.kill(), this.parallel?.kill()]);
    await this.spool?.remove();
  }

  protected async dropStaging(): Promise<void> {
    await this.client.exec('dropping the staging schema', [`DROP DATABASE IF EXISTS ${myIdent(stagingName(this.target.database))}`]);
  }

  private async prepare(): Promise<void> {
    try {
      await this.createStaging();
      if (this.state !== 'preparing') return;
      const restore = this.spawnClient();
      this.restore = restore;
      void restore.exited.then((r) => {
        if (!this.finishing) this.fail(`${this.client.bin} ${describeExit(r)} before the stream ended: ${r.stderr}`, r.code ?? -1);
      });
      restore.child.stdin?.on('drain', () => this.drainCb?.());
      this.log.info(`restoring into ${stagingName(this.target.database)}`);
      this.state = 'streaming';
      const held = this.held; this.held = [];
      for (const chunk of held) this.writeOut(chunk);
      this.drainCb?.();
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  /** Drop a leftover staging schema, then create it like the live one. */
  private async createStaging(): Promise<void> {
    const { database } = this.target;
    const staging = stagingName(database);
    const rows = await this.client.query('reading the server', [
      `SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(staging)};`,
      `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(database)};`,
    ].join('\n'));
    if (rows[0][0] !== '0') {
      this.log.warn(`dropping ${staging}, left over from an earlier run that did not finish`);
      this.notes.push(`dropped a leftover ${staging}`);
      await this.client.exec(`dropping the leftover ${staging}`, [`DROP DATABASE ${myIdent(staging)}`]);
    }
    if (this.failure) return;
    // Same character set and collation as the live schema, so unqualified CREATE TABLEs match it.
    const options = rows[1] ? ` CHARACTER SET ${rows[1][0]} COLLATE ${rows[1][1]}` : '';
    await this.client.exec(`creating ${staging}`, [`CREATE DATABASE ${myIdent(staging)}${options}`]);
    this.stagingCreated = true;
  }

  /** A client on the staging schema, as the import account. */
  private spawnClient(): StreamingTool {
    return new StreamingTool(this.client.bin, [...this.importArgs, ...myConnArgs(importConn(this.target)), `--database=${stagingName(this.target.database)}`, ...this.target.restoreArgs]);
  }

  private writeOut(chunk: Buffer): boolean {
    if (!this.spool) this.ends.push(chunk);
    let ok = true;
    for (const piece of this.filter.push(chunk)) ok = (this.restore as StreamingTool).write(piece);
    if (this.filter.failure) this.fail(this.filter.failure);
    return ok;
  }

  write(chunk: Buffer): boolean {
    if (this.state === 'spooling') return (this.spool as Spool).write(chunk);
    if (this.state === 'streaming') return this.writeOut(chunk);
    if (this.state === 'preparing') { this.held.push(chunk); return false; }
    return true;
  }


  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    if (this.spool && !this.failure) await this.importSpool(this.spool);
    else await this.endStream();
    if (this.failure) { await this.cleanup(); return this.failure; }
    return this.swapOrFail(() => swapMariadb(this.client, this.target.database));
  }

  /** --restore-while-receiving: the last bytes into the client, and its verdict. */
  private async endStream(): Promise<void> {
    await this.prepared;
    if (this.failure) return;
    this.noteCoordinates(this.ends.text());
    await this.endClient(this.restore as StreamingTool);
  }

  private async endClient(restore: StreamingTool): Promise<void> {
    for (const piece of this.filter.end()) restore.write(piece);
    const r = await restore.end();
    if (r.code !== 0) this.fail(`${this.client.bin} ${describeExit(r)}: ${clientMessage(r.stderr)}`, r.code ?? -1);
  }

  private noteCoordinates(text: string): void {
    const c = parseCoordinates(text);
    if (c) this.notes.push(describeCoordinates(c, this.target.stripReplication));
  }

  /** The verified spool: split and imported --jobs tables at once, or in one piece. */
  private async importSpool(spool: Spool): Promise<void> {
    try {
      await spool.complete();
      this.noteCoordinates(readEnds(spool.path));
    } catch (err) { this.fail((err as Error).message); return; }
    const staging = stagingName(this.target.database);
    const jobs = this.target.jobs;
    if (jobs > 1) {
      const split = await splitDump(spool.path).catch((err: Error) => ({ ok: false as const, reason: err.message }));
      if (split.ok) {
        this.log.info(`stream verified; importing ${split.plan.tables.length} tables into ${staging}, ${jobs} at once`);
        this.state = 'preparing';
        this.prepared = this.createStaging().catch((err: Error) => this.fail(err.message));
        await this.prepared;
        if (this.failure) return;
        const parallel = new ParallelImport({ file: spool.path, plan: split.plan, jobs, spawnClient: () => this.spawnClient(), judge: this.judge, log: this.log });
        this.parallel = parallel;
        const failed = await parallel.run();
        if (failed) this.fail(failed.message, failed.exitCode);
        else this.notes.push(`${split.plan.tables.length} tables imported ${jobs} at once`);
        return;
      }
      this.log.warn(`--jobs ${jobs}: importing the dump in one piece: ${split.reason}`);
      this.notes.push(`imported in one piece (${split.reason})`);
    }
    await this.replaySpool(spool);
    if (this.failure) return;
    await this.endClient(this.restore as StreamingTool);
  }

  /** The verified spool, through the filter into one client, at the client's pace. */
  private async replaySpool(spool: Spool): Promise<void> {
    this.state = 'preparing';
    this.log.info(`stream verified; importing the spool into ${stagingName(this.target.database)}`);
    this.prepared = this.prepare();
    await this.prepared;
    const restore = this.restore;
    if (!restore || this.failure) return;
    const stdin = restore.child.stdin;
    for await (const chunk of spool.read()) {
      if (this.failure) return;
      if (!this.writeOut(chunk as Buffer) && stdin) {
        await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), restore.exited]);
      }
    }
  }
}

/** The account the import runs as: --restore-user (its password from the option group
 *  [client_dbcast_restore], see README), else the operator's. */
function importConn(t: RestoreTarget): RestoreTarget['conn'] {
  return t.restoreUser ? { ...t.conn, user: t.restoreUser } : t.conn;
}
