// --restore postgres: the stream goes into a staging database, which replaces the live one only
// after the stream's SHA-256 matched and pg_restore exited 0. Any failure drops the staging
// database and leaves the live one as it was.
//
// Default: the stream is spooled (0600, fsynced); once it is verified, (1) `pg_restore --create
// --schema-only` reads the archive's CREATE DATABASE options, parsed strictly
// (database-options.ts), (2) the staging database is created with them (a leftover from a
// crashed run is dropped first), (3) `pg_restore -j N` restores the spool into it, (4) swap
// (swap.ts). Nothing from the stream reaches the server before it is verified.
//
// --restore-while-receiving: the same steps, but (1) reads the first bytes as they arrive and
// (3) streams into one pg_restore: faster to finish, and what a forged stream can do before the
// hash is checked is whatever the restore role may do (README, Security).
import type { Logger } from '../../../runtime/log';
import type { SinkFailure } from '../../sinks/sink';
import { StagingSink } from '../staging-sink';
import { pgConnArgs, psqlOrThrow } from './client';
import { databaseOptionsFromScript } from './database-options';
import { swapPostgres } from './swap';
import { Spool } from '../spool';
import type { PostgresTarget } from './options';
import { pgIdent, sqlLiteral, stagingName } from '../target';
import { describeExit, runTool, StreamingTool } from '../tool';

/** The table of contents must come within this many bytes (it is a few MB for huge schemas). */
const MAX_HEAD_BYTES = 64 * 1024 * 1024;

type State = 'spooling' | 'probing' | 'preparing' | 'streaming' | 'failed';

export class PostgresRestoreSink extends StagingSink<PostgresTarget> {
  readonly label: string;
  private state: State;
  private readonly spool: Spool | null = null;
  // --restore-while-receiving only:
  private head: Buffer[] = [];
  private headBytes = 0;
  private readonly probe: StreamingTool | null = null;
  private restore: StreamingTool | null = null;
  /** Settles when the streamed restore is running or has failed. */
  private readonly started: Promise<void>;
  private markStarted!: () => void;

  /** target.jobs is resolved by the preflight. */
  constructor(target: PostgresTarget, log: Logger) {
    super(target, log);
    this.label = `--restore postgres ${target.database}`;
    this.started = new Promise((resolve) => { this.markStarted = resolve; });
    if (!target.whileReceiving) {
      this.spool = this.openSpool();
      this.state = this.spool ? 'spooling' : 'failed';
      return;
    }
    this.state = 'probing';
    const probe = new StreamingTool('pg_restore', ['--create', '--schema-only', '-f', '-'], true);
    this.probe = probe;
    void probe.exited.then((r) => {
      if (this.state !== 'probing') return;
      if (r.code !== 0) { this.fail(`the stream is not a pg_dump custom-format archive (pg_restore ${describeExit(r)}: ${r.stderr})`, r.code ?? -1); return; }
      const options = databaseOptionsFromScript(r.stdout);
      if (!options.ok) { this.fail(options.reason); return; }
      this.state = 'preparing';
      this.prepared = this.startStreaming(options.clause);
    });
  }

  protected stopTools(): void {
    this.state = 'failed';
    this.head = [];
    void this.probe?.kill();
    void this.restore?.kill();
    this.markStarted();
  }

  protected async releaseLocal(): Promise<void> {
    await Promise.all([this.probe?.kill(), this.restore?.kill()]);
    await this.spool?.remove();
  }

  protected async dropStaging(): Promise<void> {
    await psqlOrThrow(this.target.conn, 'dropping the staging database', `DROP DATABASE IF EXISTS ${pgIdent(stagingName(this.target.database))} WITH (FORCE);`);
  }

  /** Drop a leftover staging database, then create it with the archive's options. */
  private async createStaging(withClause: string): Promise<void> {
    const { conn, database, restoreUser } = this.target;
    const staging = stagingName(database);
    const leftover = await psqlOrThrow(conn, 'looking for a leftover staging database', `SELECT 1 FROM pg_database WHERE datname = ${sqlLiteral(staging)};`);
    if (leftover.trim() !== '') {
      this.log.warn(`dropping ${staging}, left over from an earlier run that did not finish`);
      this.notes.push(`dropped a leftover ${staging}`);
      await psqlOrThrow(conn, `dropping the leftover ${staging}`, `DROP DATABASE ${pgIdent(staging)} WITH (FORCE);`);
    }
    const owner = restoreUser ? ` OWNER ${pgIdent(restoreUser)}` : '';
    await psqlOrThrow(conn, `creating ${staging}`, `CREATE DATABASE ${pgIdent(staging)}${withClause.replace(/^ WITH/, ` WITH${owner}`)};`);
    this.stagingCreated = true;
  }

  /** pg_restore connects as --restore-user when given (it owns the staging database), else as the operator's user. */
  private restoreArgs(): string[] {
    const { conn, database, restoreArgs, restoreUser } = this.target;
    return ['--exit-on-error', '-w', ...pgConnArgs(restoreUser ? { ...conn, user: restoreUser } : conn), '-d', stagingName(database), ...restoreArgs];
  }

  private async startStreaming(withClause: string): Promise<void> {
    const staging = stagingName(this.target.database);
    try {
      await this.createStaging(withClause);
      if (this.state !== 'preparing') return;
      const restore = new StreamingTool('pg_restore', this.restoreArgs());
      this.restore = restore;
      void restore.exited.then((r) => {
        if (!this.finishing) this.fail(`pg_restore ${describeExit(r)} before the stream ended: ${r.stderr}`, r.code ?? -1);
      });
      restore.child.stdin?.on('drain', () => this.drainCb?.());
      this.log.warn(`restoring into ${staging} while receiving: unverified bytes reach pg_restore`);
      const head = this.head; this.head = [];
      this.state = 'streaming';
      for (const chunk of head) restore.write(chunk);
      this.markStarted();
      this.drainCb?.();
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  write(chunk: Buffer): boolean {
    switch (this.state) {
      case 'spooling': return (this.spool as Spool).write(chunk);
      case 'streaming': return (this.restore as StreamingTool).write(chunk);
      case 'probing':
        this.head.push(chunk); this.headBytes += chunk.length;
        if (this.headBytes > MAX_HEAD_BYTES) { this.fail(`no pg_dump table of contents in the first ${MAX_HEAD_BYTES >> 20} MiB`); return true; }
        (this.probe as StreamingTool).write(chunk);
        return true;
      case 'preparing':
        this.head.push(chunk);
        return false; // resumes (drain) once the staging database exists
      default: return true;
    }
  }

  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    if (this.failure) { await this.cleanup(); return this.failure; }
    const r = this.spool ? await this.restoreSpool(this.spool) : await this.endStream();
    if (this.failure) { await this.cleanup(); return this.failure; }
    if (!r || r.code !== 0) {
      if (r) this.fail(`pg_restore ${describeExit(r)}: ${r.stderr}`, r.code ?? -1);
      await this.cleanup();
      return this.failure;
    }
    return this.swapOrFail(() => swapPostgres(this.target.conn, this.target.database));
  }

  private async endStream(): Promise<Awaited<ReturnType<typeof runTool>> | null> {
    if (this.state === 'probing') this.probe?.end(); // a tiny archive: the probe sees its end
    await this.started;
    await this.prepared;
    if (this.failure) return null;
    return (this.restore as StreamingTool).end();
  }

  /** The verified spool: read its options, create staging, pg_restore -j N from the file. */
  private async restoreSpool(spool: Spool): Promise<Awaited<ReturnType<typeof runTool>> | null> {
    try {
      await spool.complete();
      const probe = await runTool('pg_restore', ['--create', '--schema-only', '-f', '-', spool.path], undefined, 0);
      if (probe.code !== 0) { this.fail(`the stream is not a pg_dump custom-format archive (pg_restore ${describeExit(probe)}: ${probe.stderr})`, probe.code ?? -1); return null; }
      const options = databaseOptionsFromScript(probe.stdout);
      if (!options.ok) { this.fail(options.reason); return null; }
      this.prepared = this.createStaging(options.clause);
      await this.prepared;
    } catch (err) {
      this.fail((err as Error).message);
      return null;
    }
    const jobs = this.target.jobs;
    this.log.info(`stream verified; pg_restore -j ${jobs} from the spool into ${stagingName(this.target.database)}`);
    return runTool('pg_restore', [...this.restoreArgs(), '-j', String(jobs), spool.path], undefined, 0);
  }
}
