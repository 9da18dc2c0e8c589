// --restore mariadb: the stream goes into a staging schema (<db>__incoming) through the mariadb
// client, with statements that name a database filtered out; it replaces the live schema
// (swap.ts) only after the SHA-256 matched and the client exited 0. Any failure drops the
// staging schema and leaves the live one as it was.
//
// Default: spooled (0600, fsynced) and fed to the client only once verified. With
// --restore-while-receiving, fed as it arrives. Either way the client runs with --sandbox when
// it has it (no shell escapes, no file access), and as --restore-user when given.
import type { Logger } from '../../../runtime/log';
import type { SinkFailure } from '../../sinks/sink';
import { LineFilter } from '../line-filter';
import { mariadbDumpJudge } from './dump-filter';
import { MyClient, myConnArgs } from './client';
import { swapMariadb } from './swap';
import { Spool } from '../spool';
import { StagingSink } from '../staging-sink';
import type { MariadbSettings } from './options';
import { myIdent, sqlLiteral, stagingName, type RestoreTarget } from '../target';
import { describeExit, StreamingTool } from '../tool';

export class MariadbRestoreSink extends StagingSink<RestoreTarget & MariadbSettings> {
  readonly label: string;
  private state: 'spooling' | 'preparing' | 'streaming' | 'failed' = 'preparing';
  private held: Buffer[] = [];
  private restore: StreamingTool | null = null;
  private readonly spool: Spool | null = null;
  private readonly filter: LineFilter;
  private readonly client: MyClient;

  /** importArgs: what the preflight found the client supports (--sandbox). */
  constructor(target: RestoreTarget & MariadbSettings, clientBin: string, private readonly importArgs: string[], log: Logger) {
    super(target, log);
    this.label = `--restore mariadb ${target.database}`;
    this.client = new MyClient(clientBin, target.conn);
    this.filter = new LineFilter(mariadbDumpJudge(target.stripReplication));
    if (target.whileReceiving) { this.prepared = this.prepare(); return; }
    this.spool = this.openSpool();
    this.state = this.spool ? 'spooling' : 'failed';
  }

  protected stopTools(): void {
    this.state = 'failed';
    this.held = [];
    void this.restore?.kill();
  }

  protected async releaseLocal(): Promise<void> {
    await this.restore?.kill();
    await this.spool?.remove();
  }

  protected async dropStaging(): Promise<void> {
    await this.client.exec('dropping the staging schema', [`DROP DATABASE IF EXISTS ${myIdent(stagingName(this.target.database))}`]);
  }

  private async prepare(): Promise<void> {
    const { database, restoreArgs } = this.target;
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
      const restore = new StreamingTool(this.client.bin, [...this.importArgs, ...myConnArgs(importConn(this.target)), `--database=${staging}`, ...restoreArgs]);
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
    if (this.state === 'spooling') return (this.spool as Spool).write(chunk);
    if (this.state === 'streaming') return this.writeOut(chunk);
    if (this.state === 'preparing') { this.held.push(chunk); return false; }
    return true;
  }


  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    if (this.spool && !this.failure) await this.replaySpool(this.spool);
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
    return this.swapOrFail(() => swapMariadb(this.client, this.target.database));
  }

  /** The verified spool, through the filter into the client, at the client's pace. */
  private async replaySpool(spool: Spool): Promise<void> {
    try {
      await spool.complete();
    } catch (err) { this.fail((err as Error).message); return; }
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
