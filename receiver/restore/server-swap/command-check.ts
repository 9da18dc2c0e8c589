// Before joining: can the operator's stop/start command run on this host at all? Only its
// program is checked (the rest is the shell's business), plus the one failure every default
// would otherwise meet only after the whole transfer: systemctl on a host systemd did not boot.
import * as fs from 'fs';
import * as path from 'path';
import { runTool } from '../tool';

/** The program a shell command runs (after NAME=value words), or null for shell syntax. */
export function commandProgram(cmd: string): string | null {
  const words = cmd.trim().split(/\s+/);
  const first = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  if (!first || /["'`$\\(){};|&<>]/.test(first)) return null;
  return first;
}

/** sd_booted(): systemd is the init system exactly when this directory exists. */
const SYSTEMD_RUNTIME_DIR = '/run/systemd/system';
export const systemdBooted = (): boolean => fs.existsSync(SYSTEMD_RUNTIME_DIR);

const PROGRAM_LOOKUP_TIMEOUT_MS = 10_000;

/** Why `cmd` cannot run here, or null. */
export async function commandProblem(cmd: string, booted: () => boolean = systemdBooted): Promise<string | null> {
  if (cmd.trim() === '') return 'it is empty';
  const prog = commandProgram(cmd);
  if (prog === null) return null; // an assignment only, or shell syntax: let sh judge it
  const r = await runTool('/bin/sh', ['-c', 'command -v "$1"', 'sh', prog], undefined, PROGRAM_LOOKUP_TIMEOUT_MS);
  if (r.code !== 0) return `${prog} is not found or not executable`;
  const found = r.stdout.trim();
  if (found.startsWith('/')) { try { fs.accessSync(found, fs.constants.X_OK); } catch { return `${found} is not executable by this user`; } }
  const words = cmd.trim().split(/\s+/).map((w) => path.basename(w));
  if (words.includes('systemctl') && !booted()) {
    return `systemctl cannot work on this host: systemd is not its init system (no ${SYSTEMD_RUNTIME_DIR}); give the commands that stop and start the server here (e.g. service mariadb stop)`;
  }
  return null;
}
