// `dbcast check-config [FILE]`: validate a config without starting anything (exit 0, or 2
// naming the key and its line). A config meant for another host (a replica's, checked on the
// primary) names an interface this host lacks: then, or with --host-independent, the checks
// only that host can make (its interface, its key file) are left to `dbcast check` there, with
// a warning saying so.
import { EXIT } from '../runtime/exit-codes';
import { ConfigError, loadConfig } from './config';

export function runCheckConfig(file: string, hostIndependent: boolean, out: (text: string) => void = (t) => process.stdout.write(t),
  err: (text: string) => void = (t) => process.stderr.write(t)): number {
  try {
    const c = loadConfig(file, { hostIndependent: hostIndependent ? true : 'auto' });
    for (const w of c.warnings) err(`dbcast check-config: warning: ${w}\n`);
    const jobs = c.jobs.map((j) => `${j.role} ${j.job}${j.schedule ? ` at "${j.schedule}"` : ' (always listening)'}`).join(', ');
    out(`${file}: ok${hostIndependent ? ' (host-independent: interface and key-file checked for form only)' : ''}, ${c.jobs.length} job(s): ${jobs}\n`);
    return EXIT.OK;
  } catch (e) {
    if (e instanceof ConfigError) { err(`dbcast check-config: ${e.message}\n`); return EXIT.USAGE; }
    throw e;
  }
}
