// --restore postgres: the verified stream goes into a staging database, which replaces the
// live one only after the stream's SHA-256 matched and pg_restore exited 0. Any failure drops
// the staging database and leaves the live one as it was.
//
// Steps: (1) a pg_restore reads the archive's table of contents from the first bytes and
// prints the CREATE DATABASE statement, so the staging database gets the archive's
// encoding and locale; those first bytes are kept meanwhile. (2) The staging database is
// created (a leftover from a crashed run is dropped first). (3) pg_restore streams into it,
// or with --jobs N the stream is spooled to disk and `pg_restore -j N` runs on the file at
// the end (pg_restore cannot restore in parallel from a pipe). (4) swap (pg-swap.ts).
import * as fs from 'fs';
import * as path from 'path';
import type { Logger } from '../../src/log';
import type { SinkFailure } from '../sinks/sink';
import { StagingSink } from './staging-sink';
import { pgConnArgs, psqlOrThrow } from './pg-client';
import { swapPostgres } from './pg-swap';
import { pgIdent, sqlLiteral, stagingName, type RestoreTarget } from './target';
import { describeExit, runTool, StreamingTool } from './tool';

/** The table of contents must come within this many bytes (it is a few MB for huge schemas). */
const MAX_HEAD_BYTES = 64 * 1024 * 1024;
const CREATE_DATABASE = /^CREATE DATABASE (?:"(?:[^"]|"")+"|\S+)( WITH .*);$/m;

type State = 'probing' | 'preparing' | 'streaming' | 'failed';

export class PostgresRestoreSink extends StagingSink {
  readonly label: string;
  private state: State = 'probing';
  private head: Buffer[] = [];
  private headBytes = 0;
  private readonly probe: StreamingTool;
  private restore: StreamingTool | null = null;
  private spool: fs.WriteStream | null = null;
  private readonly spoolPath: string;
  /** Settles when the restore is streaming or has failed. */
  private readonly started: Promise<void>;
  private markStarted!: () => void;

  private readonly jobs: number;

  /** target.jobs is resolved by the preflight ('auto' streams if it is not). */
  constructor(target: RestoreTarget, log: Logger) {
    super(target, log);
    this.jobs = target.jobs === 'auto' ? 1 : target.jobs;
    this.label = `--restore postgres ${target.database}`;
    this.spoolPath = path.join(target.spoolDir, `dbcast-${target.database}-${process.pid}.spool`);
    this.started = new Promise((resolve) => { this.markStarted = resolve; });
    this.probe = new StreamingTool('pg_restore', ['--create', '--schema-only', '-f', '-'], true);
    void this.probe.exited.then((r) => {
      if (this.state !== 'probing') return;
      if (r.code !== 0) { this.fail(`the stream is not a pg_dump custom-format archive (pg_restore ${describeExit(r)}: ${r.stderr})`, r.code ?? -1); return; }
      this.state = 'preparing';
      this.prepared = this.prepare(CREATE_DATABASE.exec(r.stdout)?.[1] ?? ' WITH TEMPLATE = template0');
    });
  }

  protected stopTools(): void {
    this.state = 'failed';
    this.head = [];
    void this.probe.kill();
    void this.restore?.kill();
    this.spool?.destroy();
    this.markStarted();
  }

  protected async releaseLocal(): Promise<void> {
    await Promise.all([this.probe.kill(), this.restore?.kill()]);
    await fs.promises.rm(this.spoolPath, { force: true });
  }

  protected async dropStaging(): Promise<void> {
    await psqlOrThrow(this.target.conn, 'dropping the staging database', `DROP DATABASE IF EXISTS ${pgIdent(stagingName(this.target.database))} WITH (FORCE);`);
  }

  private async prepare(withClause: string): Promise<void> {
    const { conn, database, restoreArgs } = this.target;
    const jobs = this.jobs;
    const staging = stagingName(database);
    try {
      const leftover = await psqlOrThrow(conn, 'looking for a leftover staging database', `SELECT 1 FROM pg_database WHERE datname = ${sqlLiteral(staging)};`);
      if (leftover.trim() !== '') {
        this.log.warn(`dropping ${staging}, left over from an earlier run that did not finish`);
        this.notes.push(`dropped a leftover ${staging}`);
        await psqlOrThrow(conn, `dropping the leftover ${staging}`, `DROP DATABASE ${pgIdent(staging)} WITH (FORCE);`);
      }
      if (this.state !== 'preparing') return;
      await psqlOrThrow(conn, `creating ${staging}`, `CREATE DATABASE ${pgIdent(staging)}${withClause};`);
      this.stagingCreated = true;
      if (this.state !== 'preparing') return;
      if (jobs > 1) {
        this.spool = fs.createWriteStream(this.spoolPath, { flags: 'wx', mode: 0o600 });
        this.spool.on('error', (err) => this.fail(`spooling to ${this.spoolPath} failed: ${err.message}`));
      } else {
        const restore = new StreamingTool('pg_restore', ['--exit-on-error', '-w', ...pgConnArgs(conn), '-d', staging, ...restoreArgs]);
        this.restore = restore;
        void restore.exited.then((r) => {
          if (!this.finishing) this.fail(`pg_restore ${describeExit(r)} before the stream ended: ${r.stderr}`, r.code ?? -1);
        });
      }
      const drain = (): void => this.drainCb?.();
      (this.spool ?? this.restore?.child.stdin)?.on('drain', drain);
      this.log.info(`restoring into ${staging}${jobs > 1 ? ` (spooled to ${this.spoolPath} for pg_restore -j ${jobs})` : ''}`);
      const head = this.head; this.head = [];
      this.state = 'streaming';
      for (const chunk of head) this.writeOut(chunk);
      this.markStarted();
      this.drainCb?.();
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private writeOut(chunk: Buffer): boolean {
    return this.spool ? this.spool.write(chunk) : (this.restore?.write(chunk) ?? true);
  }

  write(chunk: Buffer): boolean {
    switch (this.state) {
      case 'streaming': return this.writeOut(chunk);
      case 'probing':
        this.head.push(chunk); this.headBytes += chunk.length;
        if (this.headBytes > MAX_HEAD_BYTES) { this.fail(`no pg_dump table of contents in the first ${MAX_HEAD_BYTES >> 20} MiB`); return true; }
        this.probe.write(chunk);
        return true;
      case 'preparing':
        this.head.push(chunk);
        return false; // resumes (drain) once the staging database exists
      default: return true;
    }
  }

  async finish(): Promise<SinkFailure | null> {
    this.finishing = true;
    if (this.state === 'probing') this.probe.end(); // a tiny archive: the probe sees its end
    await this.started;
    if (this.failure) { await this.cleanup(); return this.failure; }
    const { conn, database, restoreArgs } = this.target;
    const jobs = this.jobs;
    let r;
    if (this.spool) {
      const spool = this.spool;
      await new Promise<void>((resolve) => spool.end(() => resolve()));
      if (this.failure) { await this.cleanup(); return this.failure; }
      this.log.info(`running pg_restore -j ${jobs} on the spooled stream`);
      r = await runTool('pg_restore', ['--exit-on-error', '-w', '-j', String(jobs), ...pgConnArgs(conn), '-d', stagingName(database), ...restoreArgs, this.spoolPath], undefined, 0);
    } else {
      r = await (this.restore as StreamingTool).end();
    }
    if (r.code !== 0) {
      this.fail(`pg_restore ${describeExit(r)}: ${r.stderr}`, r.code ?? -1);
      await this.cleanup();
      return this.failure;
    }
    return this.swapOrFail(() => swapPostgres(conn, database));
  }
}
