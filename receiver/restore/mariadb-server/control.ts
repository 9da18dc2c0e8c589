// The MariaDB side of the shared swap (server-swap/swap.ts): the operator's stop and start
// commands, and what "running" and "answers" mean for a mariadbd. Down means both: the check
// connection gets no answer and no process runs in the data directory (a server the check
// login cannot reach is still a server, and moving its files under it is fatal).
import * as fs from 'fs';
import type { Logger } from '../../../runtime/log';
import type { ServerControl, StepResult } from '../server-swap/swap';
import { describeCommand, runShell } from '../server-swap/shell-command';
import type { MariadbServerSettings } from './options';
import { errorSummary, processesIn, serverLogTail, type ServerCheck } from './server';

const PROCESS_POLL_MS = 200;

export class MariadbControl implements ServerControl {
  constructor(private readonly s: MariadbServerSettings, private readonly server: ServerCheck, private readonly log: Logger) {}

  private get live(): string { return this.s.dataDir; }
  private get timeoutSec(): number { return this.s.checkTimeoutMs / 1000; }

  async running(): Promise<boolean> {
    return processesIn(this.live).length > 0 || (await this.server.probe()).up;
  }

  async stop(): Promise<StepResult> {
    this.log.info(`mariadb-server: stopping the server: ${this.s.stopCommand}`);
    const r = await runShell(this.s.stopCommand, this.s.checkTimeoutMs);
    // A server that was not running cannot be stopped; what counts is that it is down.
    if (!r.ok && (await this.server.probe()).up) return { ok: false, message: `the stop command ${describeCommand(r, this.s.checkTimeoutMs)}` };
    if (!(await this.server.waitDown(this.s.checkTimeoutMs))) return { ok: false, message: `the server still answers ${this.timeoutSec} s after the stop command` };
    const end = Date.now() + this.s.checkTimeoutMs;
    for (let pids = processesIn(this.live); pids.length > 0; pids = processesIn(this.live)) {
      if (Date.now() >= end) return { ok: false, message: `process ${pids.join(', ')} still runs in ${this.live} ${this.timeoutSec} s after the stop command` };
      await new Promise((resolve) => setTimeout(resolve, PROCESS_POLL_MS));
    }
    return { ok: true, message: '' };
  }

  async start(): Promise<StepResult> {
    this.log.info(`mariadb-server: starting the server: ${this.s.startCommand}`);
    const r = await runShell(this.s.startCommand, this.s.checkTimeoutMs);
    if (r.ok) return { ok: true, message: '' };
    // Its output goes to our log; the report gets the server's own error lines instead.
    this.log.error(`mariadb-server: the start command ${describeCommand(r, this.s.checkTimeoutMs)}`);
    return { ok: false, message: `the start command ${describeCommand({ ...r, output: '' }, this.s.checkTimeoutMs)}` };
  }

  /** Answers, and from the live data directory (not some other server on the same socket). */
  async check(): Promise<StepResult> {
    this.log.info(`mariadb-server: waiting (at most ${this.timeoutSec} s) for the server to answer`);
    const p = await this.server.waitUp(this.s.checkTimeoutMs);
    if (!p.up) return { ok: false, message: `the server did not answer within ${this.timeoutSec} s: ${p.error}` };
    const want = fs.realpathSync(this.live);
    if (p.datadir !== want && p.datadir !== this.live) return { ok: false, message: `the server that answers runs on ${p.datadir}, not ${this.live}` };
    return { ok: true, message: `MariaDB ${p.version}, data directory ${p.datadir}` };
  }

  /** The last lines in full to our log; the report gets the [ERROR] lines. */
  async lastLog(): Promise<string> {
    const tail = await serverLogTail(this.s);
    if (tail) this.log.error(`mariadb-server: the server's last log lines:\n${tail}`);
    return errorSummary(tail);
  }
}
