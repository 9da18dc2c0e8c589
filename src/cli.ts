// Command line: `dbcast send` and `dbcast receive`. yargs gives help, commands and unknown-flag
// checks; the flag values are read as text (src/flags.ts) and validated by src/options.ts;
// misuse exits 2 with a message naming the flag.
import yargs, { type Argv } from 'yargs';
import { runReceive } from '../receiver/run-receive';
import { runSend } from '../sender/run-send';
import { EXIT, STATUS_EXIT } from '../runtime/exit-codes';
import { createLogger } from '../runtime/log';
import { parseReceiveOptions, parseSendOptions } from './options';
// config (yaml), the daemon (node-cron, prom-client) and status load on first use: a plain
// send or receive starts faster without them (they were half of its start-up time).
import { COMMON, RECEIVE, SEND, flagValues, helpOptions } from './flags';
import { UsageError } from '../runtime/usage-error';
import { suggestion, unknownFlagMessage, unknownFlags } from './did-you-mean';

/** A usage error: one line naming the flag, a hint where to look, exit 2. */
function usageExit(message: string, command?: string): never {
  const where = command ? `dbcast ${command}` : 'dbcast';
  process.stderr.write(`${where}: ${message}\nTry '${where} --help'.\n`);
  // status is a monitoring check: 2 would read as CRITICAL, so its bad flags are 3 (UNKNOWN).
  process.exit(command === 'status' || command === 'check' ? STATUS_EXIT.UNKNOWN : EXIT.USAGE);
}

/** A local setup that does not fit the flags (an --interface address this host lacks, a port it
 *  may not bind): one line, exit 2. */
function setupExit(command: string, message: string): never {
  process.stderr.write(`dbcast ${command}: ${message}\n`);
  process.exit(EXIT.USAGE);
}

const TABLES = { send: { ...COMMON, ...SEND }, receive: { ...COMMON, ...RECEIVE } } as const;

function parseOptions(kind: 'send' | 'receive', args: readonly string[]): ReturnType<typeof parseSendOptions> | ReturnType<typeof parseReceiveOptions> {
  const raw = flagValues(args, TABLES[kind]);
  return kind === 'send' ? parseSendOptions(raw) : parseReceiveOptions(raw);
}

async function run(kind: 'send' | 'receive', args: readonly string[]): Promise<void> {
  let code: number;
  let opts: ReturnType<typeof parseOptions>;
  try { opts = parseOptions(kind, args); } catch (err) {
    if (err instanceof UsageError) usageExit(err.message, kind);
    throw err;
  }
  try {
    code = kind === 'send'
      ? await runSend(opts as ReturnType<typeof parseSendOptions>, createLogger('send', opts.logLevel))
      : await runReceive(opts as ReturnType<typeof parseReceiveOptions>, createLogger('receive', opts.logLevel));
  } catch (err) {
    if (err instanceof UsageError) setupExit(kind, err.message);
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
  if (file === undefined) usageExit('name the config file: dbcast check-config FILE (or --config FILE)', 'check-config');
  const { runCheckConfig } = await import('./check-config');
  return runCheckConfig(String(file), argv['host-independent'] === true);
}

async function showStatus(argv: Record<string, unknown>): Promise<number> {
  const { runStatus } = await import('./status');
  return runStatus(argv);
}

const SEND_EXAMPLES: [string, string][] = [
  ['pg_dump -Fc app | $0 send --group 239.1.2.3 --min-receivers 3', 'multicast a dump from stdin once 3 receivers joined'],
  ['$0 send --group 239.1.2.3 --command "pg_dump -Fc app" --receivers db2,db3', 'run the dump itself (its exit status is checked); only db2 and db3 may join'],
  ['$0 send --group 239.1.2.3 --command "mariadb-dump --single-transaction app" --key-file /etc/dbcast/key', 'every packet sealed with a pre-shared key (the receivers need the same file)'],
];

const RECEIVE_EXAMPLES: [string, string][] = [
  ['$0 receive --group 239.1.2.3 | pg_restore -d app_dev', 'stream to stdout, into pg_restore (restored as it arrives, unverified)'],
  ['$0 receive --group 239.1.2.3 --restore postgres --database app', 'restore into a staging database, swapped in for app only once verified'],
  ['$0 receive --group 239.1.2.3 --output /srv/dumps --keep 7', 'archive with a timestamped name, keep the 7 newest'],
  ['$0 receive --group 239.1.2.3 --pipe "gzip > /srv/app.dump.gz"', 'feed a command; its exit status decides success'],
];

/** Examples as a block under the options: each command line whole, what it does below it. */
const examplesText = (examples: [string, string][]): string =>
  `Examples:\n${examples.map(([cmd, what]) => `  ${cmd.replace('$0', 'dbcast')}\n      ${what}`).join('\n')}`;

function transferCommand(kind: 'send' | 'receive', examples: [string, string][]) {
  return (y: Argv): Argv => y.options(helpOptions(TABLES[kind]) as Record<string, object>).epilog(examplesText(examples));
}

interface YargsInternals { getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } } }

/** The registered commands (for "did you mean" and "name a command"). */
function commandNames(cli: Argv): string[] {
  try { return (cli as unknown as YargsInternals).getInternalMethods().getCommandInstance().getCommands(); } catch { return ['send', 'receive', 'daemon', 'check-config', 'run', 'status']; }
}

/** Flags the command does not know, refused with the nearest known one (before yargs' strict
 *  check, whose message lists each twice: kebab and camelCase). */
function refuseUnknownFlags(args: readonly string[]) {
  return (argv: Record<string, unknown>, y: Argv): void => {
    const opts = (y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }).getOptions();
    const known = [...Object.keys(opts.key), ...Object.values(opts.alias).flat()];
    const unknown = unknownFlags(argv, known, args);
    if (unknown.length > 0) usageExit(unknownFlagMessage(unknown, known), commandOf(args));
  };
}

/** The command word of a command line (the first argument not starting with -). */
function commandOf(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith('-'));
}

/** yargs' own failures, worded like ours: the command, the flag, what was expected. */
function failUsage(args: readonly string[], commands: readonly string[], message: string): never {
  const cmd = commandOf(args);
  if (cmd === undefined) usageExit(`name a command: ${commands.join(', ')}`);
  if (!commands.includes(cmd)) {
    const near = suggestion(cmd, commands);
    usageExit(`unknown command ${cmd}; ${near === undefined ? `expected one of ${commands.join(', ')}` : `did you mean ${near}?`}`);
  }
  // A value yargs refused (a --log-level or --restore not among the choices): our message.
  if (cmd === 'send' || cmd === 'receive') {
    try { parseOptions(cmd, args); } catch (err) { if (err instanceof UsageError) usageExit(err.message, cmd); }
  }
  const missing = /^Missing required arguments?: ([^\n]+)/.exec(message);
  if (missing) usageExit(`${missing[1].split(', ').map((k) => `--${k}`).join(', ')} required, but not given`, cmd);
  if (/^Not enough non-option arguments/.test(message)) usageExit(cmd === 'run' ? 'name the job to run: dbcast run JOB --config FILE' : 'an argument is missing', cmd);
  const extra = /^Unknown arguments?: (.+)$/.exec(message);
  if (extra) usageExit(`unexpected argument ${extra[1]}`, cmd);
  usageExit(message, cmd);
}

export function main(args: string[]): void {
  const cli = yargs(args)
    .scriptName('dbcast')
    .usage('$0 <command> [options]\n\nMulticast a database dump once to many hosts, verified end to end.')
    .command('send', 'multicast stdin or --command output to the receivers', transferCommand('send', SEND_EXAMPLES),
      () => run('send', args))
    .command('receive', 'receive one stream: stdout, --output FILE, --pipe CMD and/or --restore PRESET', transferCommand('receive', RECEIVE_EXAMPLES),
      () => run('receive', args))
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
    .command('accept-source <job>', 'after a planned failover: the next run of this receive job accepts a new source (split-brain guard)', (y) => y.positional('job', { type: 'string', describe: 'the receive job' }).options({
      'system-id': { type: 'string', describe: 'accept only the source with this system identifier [any]' },
      'state-dir': { type: 'string', describe: 'the daemon\'s state-dir [the config\'s, else /var/lib/dbcast]' },
      config: { type: 'string', describe: 'the daemon\'s config (its state-dir)' },
      'source-state': { type: 'string', describe: 'the job\'s source state file, as given to dbcast receive --source-state' },
    }), (argv) => finish(import('./accept-source').then(({ acceptSource }) => {
      try { return acceptSource(argv); } catch (err) { if (err instanceof UsageError) usageExit(err.message, 'accept-source'); throw err; }
    })))
    .demandCommand(1, 'name a command')
    .strict()
    .middleware(refuseUnknownFlags(args) as never, true)
    .help()
    .alias('h', 'help')
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100));
  // Read before parsing: inside a command, yargs lists only that command's subcommands.
  const commands = commandNames(cli);
  void cli.fail((msg, err) => failUsage(args, commands, msg ?? err?.message ?? 'bad usage')).parse();
}

if (require.main === module) main(process.argv.slice(2));
