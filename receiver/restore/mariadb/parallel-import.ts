// --restore mariadb --jobs N: the verified spool, split at its sections (split.ts), imported by
// several mariadb clients into the staging schema: the prologue (header, CREATE TABLEs, view
// stand-ins) in one client, then up to N tables' rows at once (largest first, each client fed
// the header's session settings, its table's byte range of the spool, and the trailer's
// restores), then the epilogue (events, routines, final views, trailer) in one client. Every
// byte goes through the same line filter as a sequential import (one judge for all parts, so
// "more than one database" is seen across them). The first failure kills the other clients.
import * as fs from 'fs';
import type { Logger } from '../../../runtime/log';
import { LineFilter, type LineVerdict } from '../line-filter';
import { describeExit, type StreamingTool } from '../tool';
import { clientMessage } from './client';
import { rangeBytes, type ByteRange, type DumpPlan } from './split';

type Piece = Buffer | ByteRange;

export interface ImportFailure { message: string; exitCode: number }

export interface ParallelImportOptions {
  file: string;
  plan: DumpPlan;
  jobs: number;
  /** A mariadb client on the staging schema, reading SQL on stdin. */
  spawnClient: () => StreamingTool;
  judge: (line: string) => LineVerdict;
  log: Logger;
}

const mb = (n: number): string => (n / 1e6).toFixed(1);

export class ParallelImport {
  private readonly live = new Set<StreamingTool>();
  private failure: ImportFailure | null = null;

  constructor(private readonly o: ParallelImportOptions) {}

  /** null when every part imported; else the first failure (the other clients are killed). */
  async run(): Promise<ImportFailure | null> {
    const { plan, jobs } = this.o;
    const t0 = Date.now();
    await this.part('the schema (header, tables, view stand-ins)', plan.prologue);
    if (this.failure) return this.failure;
    const queue = [...plan.tables].sort((a, b) => rangeBytes(b.range) - rangeBytes(a.range));
    const worker = async (): Promise<void> => {
      for (let t = queue.shift(); t && !this.failure; t = queue.shift()) {
        const started = Date.now();
        await this.part(`table \`${t.name}\``, [plan.sessionSettings, t.range, plan.sessionRestore]);
        if (!this.failure) this.o.log.debug(`imported \`${t.name}\` (${mb(rangeBytes(t.range))} MB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, Math.max(1, queue.length)) }, worker));
    if (this.failure) return this.failure;
    await this.part('views, routines, events and the trailer', [plan.sessionSettings, ...plan.epilogue]);
    if (!this.failure) this.o.log.info(`imported ${plan.tables.length} tables, ${jobs} at once, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return this.failure;
  }

  /** Kill every client still running (the restore failed elsewhere). */
  async kill(): Promise<void> {
    this.failure ??= { message: 'stopped', exitCode: -1 };
    await Promise.all([...this.live].map((t) => t.kill()));
  }

  private fail(what: string, message: string, exitCode: number): void {
    if (this.failure) return;
    this.failure = { message: `${what}: ${message}`, exitCode };
    for (const t of this.live) void t.kill();
  }

  /** One client fed `pieces` through the filter, at the client's pace. */
  private async part(what: string, pieces: Piece[]): Promise<void> {
    if (this.failure) return;
    const tool = this.o.spawnClient();
    this.live.add(tool);
    const filter = new LineFilter(this.o.judge);
    const stdin = tool.child.stdin;
    const send = async (chunk: Buffer): Promise<boolean> => {
      let ok = true;
      for (const piece of filter.push(chunk)) ok = tool.write(piece);
      if (filter.failure) { this.fail(what, filter.failure, -1); return false; }
      if (!ok && stdin) await Promise.race([new Promise((resolve) => stdin.once('drain', resolve)), tool.exited]);
      return tool.running && !this.failure;
    };
    try {
      feed: for (const p of pieces) {
        if (Buffer.isBuffer(p)) { if (!(await send(p))) break; continue; }
        if (p.end <= p.start) continue;
        for await (const chunk of fs.createReadStream(this.o.file, { start: p.start, end: p.end - 1, highWaterMark: 1 << 20 })) {
          if (!(await send(chunk as Buffer))) break feed;
        }
      }
      if (this.failure) { await tool.kill(); return; }
      for (const piece of filter.end()) tool.write(piece);
      const r = await tool.end();
      if (r.code !== 0 && !this.failure) this.fail(what, `${tool.bin} ${describeExit(r)}: ${clientMessage(r.stderr)}`, r.code ?? -1);
    } catch (err) {
      this.fail(what, (err as Error).message, -1);
      await tool.kill();
    } finally {
      this.live.delete(tool);
    }
  }
}
