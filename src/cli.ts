// Command line: `dbcast send` and `dbcast receive`. Flags are parsed by yargs and validated
// by src/options.ts; misuse exits 2 with a message naming the flag.
import yargs from 'yargs';
import { runReceive } from '../receiver/run-receive';
import { runSend } from '../sender/run-send';
import { EXIT } from './exit-codes';
import { createLogger } from './log';
import { parseReceiveOptions, parseSendOptions } from './options';
import { UsageError } from './usage-error';

const COMMON = {
  group: { type: 'string', describe: 'IPv4 multicast group [239.255.42.1]' },
  port: { type: 'string', describe: 'UDP port of the group [9000]' },
  interface: { type: 'string', describe: 'interface name or IPv4 address to use for multicast [routing default]' },
  job: { type: 'string', describe: 'job name; sender and receivers must agree [default]' },
  'idle-timeout-sec': { type: 'string', describe: 'give up on a peer silent this long [15]' },
  'log-level': { type: 'string', describe: 'error, warn, info, verbose or debug [info]' },
} as const;

const SEND = {
  command: { type: 'string', describe: 'dump command to run (its exit status is checked); else read stdin' },
  ttl: { type: 'string', describe: 'multicast TTL (1 = this subnet only) [1]' },
  'min-receivers': { type: 'string', describe: 'start as soon as this many receivers joined [1]' },
  'min-wait-sec': { type: 'string', describe: 'after the first join, wait at least this long for more [0]' },
  'max-wait-sec': { type: 'string', describe: 'stop waiting for --min-receivers after this long; 0 = forever [0]' },
  'max-wait-min-receivers': { type: 'string', describe: 'at --max-wait-sec, start if at least this many joined [--min-receivers]' },
  'max-rate-mbps': { type: 'string', describe: 'maximum send rate, megabits per second [1000]' },
  'payload-bytes': { type: 'string', describe: 'data bytes per datagram [1448: fits a 1500-byte MTU]' },
  'window-mib': { type: 'string', describe: 'unacknowledged data kept for repairs, MiB [64]' },
  'drop-after-sec': { type: 'string', describe: 'drop a receiver that stays over half a window behind the fastest this long; 0 = never [0]' },
  report: { type: 'string', describe: 'also write the final report as JSON to this file' },
} as const;

const RECEIVE = {
  output: { type: 'string', describe: 'write the stream to FILE (as FILE.partial until verified), or archive into DIR / a name template with {timestamp} {job} {name}' },
  keep: { type: 'string', describe: 'archive: keep this many newest files of the template, remove older ones; 0 = all [0]' },
  restore: { type: 'string', describe: 'restore preset: postgres or mariadb (staging database, swapped in only when everything succeeded)' },
  database: { type: 'string', describe: '--restore: the live database to replace' },
  'db-host': { type: 'string', describe: '--restore: server host, or socket directory/path starting with / [the client\'s default]' },
  'db-port': { type: 'string', describe: '--restore: server port [the client\'s default]' },
  'db-user': { type: 'string', describe: '--restore: user (passwords from ~/.pgpass, ~/.my.cnf, PGPASSWORD/MYSQL_PWD) [the client\'s default]' },
  'restore-arg': { type: 'string', array: true, describe: '--restore: extra option for pg_restore/mariadb, repeatable (e.g. --restore-arg=--no-owner)' },
  jobs: { type: 'string', describe: '--restore postgres: N > 1 spools the stream and runs pg_restore -j N on it; 1 streams into pg_restore; auto = parallel when the spool has room [auto]' },
  'spool-dir': { type: 'string', describe: '--restore postgres --jobs: where the stream is spooled [$TMPDIR or /tmp]' },
  'strip-replication': { type: 'boolean', describe: '--restore mariadb: drop CHANGE MASTER / gtid_slave_pos / GTID_PURGED lines' },
  pipe: { type: 'string', describe: 'feed the stream to this command (e.g. "pg_restore -d app")' },
  stdout: { type: 'boolean', describe: 'write to stdout too (the default when no --output/--pipe)' },
  name: { type: 'string', describe: 'receiver name in the sender\'s report [hostname]' },
  'start-timeout-sec': { type: 'string', describe: 'give up if no sender accepted us this long; 0 = wait forever [0]' },
  'max-window-mib': { type: 'string', describe: 'refuse senders whose window needs more memory than this [1024]' },
} as const;

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

export function main(args: string[]): void {
  void yargs(args)
    .scriptName('dbcast')
    .usage('$0 <command> [options]\n\nMulticast a database dump once to many hosts, verified end to end.')
    .command('send', 'multicast stdin or --command output to the receivers', (y) => y.options({ ...COMMON, ...SEND }),
      (argv) => run('send', argv))
    .command('receive', 'receive one stream: stdout, --output FILE and/or --pipe CMD', (y) => y.options({ ...COMMON, ...RECEIVE }),
      (argv) => run('receive', argv))
    .demandCommand(1, 'name a command: send or receive')
    .strict()
    .fail((msg, err) => usageExit(msg ?? err?.message ?? 'bad usage'))
    .help()
    .version()
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .parse();
}

if (require.main === module) main(process.argv.slice(2));
