// Running the database's own client tools (psql, pg_restore, mariadb): they honour the
// operator's usual settings (.pgpass, PG* variables, ~/.my.cnf), so dbcast connects the way
// the operator's own restore would.
import { spawn, type ChildProcess } from 'child_process';
import { OutputTail } from '../../runtime/output-tail';
import { killGroup } from '../../runtime/process-group';

export interface ToolResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Output a tool may print before we stop collecting it (queries here return a few rows). */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
const KILL_GRACE_MS = 5000;

/** Run a tool to completion (timeoutMs 0: no limit). A missing binary is a result (code null), not a throw. */
export function runTool(bin: string, args: string[], input?: string, timeoutMs = 120_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = []; let outBytes = 0;
    const tail = new OutputTail(4096);
    child.stdout.on('data', (d: Buffer) => { if (outBytes < MAX_STDOUT_BYTES) { out.push(d); outBytes += d.length; } });
    child.stderr.on('data', (d: Buffer) => tail.push(d));
    child.stdin.on('error', () => { /* the tool exited without reading: its status says why */ });
    const timer = timeoutMs > 0 ? setTimeout(() => killGroup(child, 'SIGKILL'), timeoutMs) : undefined;
    child.once('error', (err) => { clearTimeout(timer); resolve({ code: null, signal: null, stdout: '', stderr: `${bin}: ${err.message}` }); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: tail.lines(4) });
    });
    child.stdin.end(input ?? '');
  });
}

export function describeExit(r: { code: number | null; signal: NodeJS.Signals | null }): string {
  return r.signal ? `was killed by ${r.signal}` : r.code === null ? 'could not run' : `exited with status ${r.code}`;
}

/** A long-running tool fed on stdin (pg_restore, mariadb). Own process group so a kill reaches all of it. */
export class StreamingTool {
  readonly child: ChildProcess;
  readonly exited: Promise<ToolResult>;
  private readonly tail = new OutputTail(4096);
  private readonly out: Buffer[] = [];
  private outBytes = 0;

  /** captureStdout: keep what the tool prints (up to a limit), else discard it. */
  constructor(readonly bin: string, args: string[], captureStdout = false) {
    this.child = spawn(bin, args, { stdio: ['pipe', captureStdout ? 'pipe' : 'ignore', 'pipe'], detached: true });
    this.child.stdout?.on('data', (d: Buffer) => { if (this.outBytes < MAX_STDOUT_BYTES) { this.out.push(d); this.outBytes += d.length; } });
    this.child.stderr?.on('data', (d: Buffer) => this.tail.push(d));
    this.child.stdin?.on('error', () => { /* reported through the exit status */ });
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => resolve({ code: null, signal: null, stdout: '', stderr: `${bin}: ${err.message}` }));
      this.child.once('close', (code, signal) => resolve({ code, signal, stdout: Buffer.concat(this.out).toString('utf8'), stderr: this.tail.lines(4) }));
    });
  }

  get running(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }

  write(chunk: Buffer): boolean { return this.child.stdin?.write(chunk) ?? true; }

  /** End of input: the tool finishes on its own terms. */
  end(): Promise<ToolResult> { this.child.stdin?.end(); return this.exited; }

  /** Kill before closing stdin: a restore must never mistake a cut stream for a complete one. */
  async kill(): Promise<void> {
    if (!this.running) return;
    killGroup(this.child, 'SIGTERM');
    const t = setTimeout(() => killGroup(this.child, 'SIGKILL'), KILL_GRACE_MS);
    await this.exited;
    clearTimeout(t);
  }
}
