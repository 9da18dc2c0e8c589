// The operator's stop/start commands (pg_ctlcluster, systemctl, pg_ctl ...), run with /bin/sh.
// Their output goes to a private temp file, not a pipe: a server started in the background
// inherits its starter's stdout, and a pipe held open by it would never report the end.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { killGroup } from '../../../runtime/process-group';

export interface CommandResult { ok: boolean; code: number | null; signal: NodeJS.Signals | null; output: string; timedOut: boolean }

const OUTPUT_TAIL_BYTES = 2048;

/** The last `n` non-empty lines of a text, joined with " | " (one report field). */
export function lastLines(text: string, n: number): string {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '').slice(-n).join(' | ');
}

/** The tail of a file (a server's log), or '' when it cannot be read. */
export function fileTail(file: string, maxBytes = 4096): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally { fs.closeSync(fd); }
  } catch { return ''; }
}

export function runShell(cmd: string, timeoutMs: number): Promise<CommandResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-cmd-'));
  const outFile = path.join(dir, 'output');
  const fd = fs.openSync(outFile, 'wx', 0o600);
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { stdio: ['ignore', fd, fd], detached: true });
    fs.closeSync(fd);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; killGroup(child, 'SIGKILL'); }, timeoutMs);
    const done = (code: number | null, signal: NodeJS.Signals | null, extra = ''): void => {
      clearTimeout(timer);
      const output = lastLines(fileTail(outFile, OUTPUT_TAIL_BYTES) + extra, 6);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ ok: code === 0 && !timedOut, code, signal, output, timedOut });
    };
    child.once('error', (err) => done(null, null, `\n${err.message}`));
    child.once('exit', (code, signal) => done(code, signal));
  });
}

export function describeCommand(r: CommandResult, timeoutMs: number): string {
  const how = r.timedOut ? `did not finish in ${Math.round(timeoutMs / 1000)} s` : r.signal ? `was killed by ${r.signal}` : r.code === null ? 'could not run' : `exited with status ${r.code}`;
  return `${how}${r.output ? ` (${r.output})` : ''}`;
}
