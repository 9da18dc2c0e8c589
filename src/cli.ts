// Command line: `dbcast send` and `dbcast receive`. Flags are parsed by yargs and validated
// by src/options.ts; misuse exits 2 with a message naming the flag.
import yargs from 'yargs';
import { runReceive } from '../receiver/run-receive';
import { runSend } from '../sender/run-send';
import { EXIT } from '../runtime/exit-codes';
import { createLogger } from '../runtime/log';
import { parseReceiveOptions, parseSendOptions } from './options';
// config (yaml), the daemon (node-cron, prom-client) and status load on first use: a plain
// send or receive starts faster without them (they were half of its start-up time).
import { COMMON, RECEIVE, SEND } from './flags';
import { UsageError } from '../runtime/usage-error';

function usageExit(message: string): never {
  process.stderr.write(`dbcast: ${message}\nTry 'dbcast --help'.\n`);
  process.exit(EXIT.USAGE);
}

async function run(kind: 'send' | 'receive', argv: Record<string, unknown>): Promise<void> {
  let code: number;
  try {
    if (kind === 'send') {
      const opts = parseSendOptions(argv);
      code = await runSend(opts, createLogger('send', opts.logLevel));
    } else {
      const opts = parseReceiveOptions(argv);
      code = await runReceive(opts, createLogger('receive', opts.logLevel));
    }
  } catch (err) {
    if (err instanceof UsageError) usageExit(err.message);
    process.stderr.write(`dbcast ${kind}: ${(err as Error).stack ?? String(err)}\n`);
    code = EXIT.INTERNAL;
  }
  // Let stderr drain, then exit even if stdin is still open.
  process.stderr.write('', () => process.exit(code));
}

function finish(p: Promise<number>): void {
  void p.then((code) => process.stderr.write('', () => process.exit(code)), (err: Error) => {
    process.stderr.write(`dbcast: ${err.stack ?? err.message}\n`);
    process.exit(EXIT.INTERNAL);
  });
}

async function checkConfig(argv: Record<string, unknown>): Promise<number> {
  const file = argv.file ?? argv.config;
  if (file === undefined) usageExit('name the config file: dbcast check-config FILE (or --config FILE)');
  const { runCheckConfig } = await import('./check-config');
  return runCheckConfig(String(file), argv['host-independent'] === true);
}

async function showStatus(argv: Record<string, unknown>): Promise<number> {
  const { runStatus } = await import('./status');
  return runStatus(argv);
}

export function main(args: string[]): void {
  void yargs(args)
    .scriptName('dbcast')
    .usage('$0 <command> [options]\n\nMulticast a database dump once to many hosts, verified end to end.')
    .command('send', 'multicast stdin or --command output to the receivers', (y) => y.options({ ...COMMON, ...SEND }),
      (argv) => run('send', argv))
    .command('receive', 'receive one stream: stdout, --output FILE and/or --pipe CMD', (y) => y.options({ ...COMMON, ...RECEIVE }),
      (argv) => run('receive', argv))
    .command('daemon', 'run the jobs of a config file on their schedules', (y) => y.options({ config: { type: 'string', demandOption: true, describe: 'YAML config file' } }),
      (argv) => finish(import('./daemon/daemon').then(({ runDaemon }) => runDaemon(String(argv.config)))))
    .command('check-config [file]', 'validate a config file (exit 0 or 2) without starting anything; also one for another host', (y) => y.positional('file', { type: 'string', describe: 'YAML config file' }).options({
      config: { type: 'string', describe: 'YAML config file (instead of FILE)' },
      'host-independent': { type: 'boolean', describe: 'a config for another host: its interface and key-file checked for form only [when it names an interface this host lacks]' },
    }), (argv) => finish(checkConfig(argv)))
    .command('check [job]', 'can the configured jobs run here: restore preflight, commands, interface, key file, clock, next runs (exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN)', (y) => y.positional('job', { type: 'string', describe: 'check only this job [every job]' }).options({ config: { type: 'string', demandOption: true, describe: 'YAML config file' } }),
      (argv) => finish(import('./check').then(({ runCheck }) => runCheck(String(argv.config), argv.job === undefined ? undefined : String(argv.job)))))
    .command('run <job>', 'run one configured job now and exit with its exit code (for systemd timers: dbcast-run@JOB.timer)', (y) => y.positional('job', { type: 'string', describe: 'the job name' }).options({ config: { type: 'string', demandOption: true, describe: 'YAML config file' }, role: { choices: ['send', 'receive'] as const, describe: 'which, when the config has both a send and a receive job of that name' } }),
      (argv) => finish(import('./run-job').then(({ runJob }) => runJob(String(argv.config), String(argv.job), argv.role))))
    .command('status', 'each job\'s state as a monitoring check: exit 0 OK, 1 WARNING (degraded, never ran), 2 CRITICAL (failed, stale), 3 UNKNOWN (unreadable state, bad flags)', (y) => y.options({
      'state-dir': { type: 'string', describe: 'the daemon\'s state-dir [the config\'s, else /var/lib/dbcast]' },
      config: { type: 'string', describe: 'the daemon\'s config: its state-dir and jobs (jobs that never ran count) [/etc/dbcast/dbcast.yaml if it exists and no --state-dir]' },
      'max-age-hours': { type: 'string', describe: 'CRITICAL when a job\'s last success is older than this; 0 = off [from each job\'s schedule: the longest gap + 2 h; 26 without one]' },
      json: { type: 'boolean', describe: 'print the same as JSON' },
    }), (argv) => finish(showStatus(argv)))
    .demandCommand(1, 'name a command: send, receive, daemon, check-config or status')
    .strict()
    .fail((msg, err) => usageExit(msg ?? err?.message ?? 'bad usage'))
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .parse();
}

if (require.main === module) main(process.argv.slice(2));
