// The flags of `dbcast send` and `dbcast receive`. The daemon's config accepts the same names
// as keys (src/config.ts), so this table is the one list of both. The --restore flags come
// from the restore presets (receiver/restore/restore-flags.ts); their help form is added here.
//
// The types, placeholders, groups and defaults are for help only: the values are read as the
// text given (flagValues below) and validated by src/options.ts, so a bad number is reported
// with its flag and expected form, never turned into NaN or a default.
import { Parser } from 'yargs/helpers';
import { UsageError } from '../runtime/usage-error';
import { PRESET_NAMES } from '../receiver/restore/presets';
import { RESTORE_FLAGS } from '../receiver/restore/restore-flags';
import { SOURCE_FLAGS } from '../sender/source/source-flags';

export const GROUPS = ['Network', 'Transfer', 'Receivers', 'Input', 'Output', 'Restore', 'Security', 'Logging'] as const;
export type FlagGroup = (typeof GROUPS)[number];

export interface Flag {
  /** As help shows it; the value itself is validated by src/options.ts. */
  readonly type: 'string' | 'number' | 'boolean';
  readonly describe: string;
  readonly group: FlagGroup;
  /** The value's form in help: --group ADDR. */
  readonly placeholder?: string;
  /** Shown as [default: ...]; never applied by the parser (src/options.ts has the defaults). */
  readonly defaultDescription?: string;
  readonly choices?: readonly string[];
  readonly array?: boolean;
}
type FlagTable = Readonly<Record<string, Flag>>;

const LOG_LEVELS = ['error', 'warn', 'info', 'verbose', 'debug'] as const;

export const COMMON = {
  group: { type: 'string', group: 'Network', placeholder: 'ADDR', describe: 'IPv4 multicast group', defaultDescription: '239.255.42.1' },
  port: { type: 'number', group: 'Network', placeholder: 'PORT', describe: 'UDP port of the group', defaultDescription: '9000' },
  interface: { type: 'string', group: 'Network', placeholder: 'NAME|ADDR', describe: 'interface name or IPv4 address of this host to use for multicast', defaultDescription: 'routing default' },
  job: { type: 'string', group: 'Transfer', placeholder: 'NAME', describe: 'job name (sender and receivers must agree)', defaultDescription: 'default' },
  'idle-timeout-sec': { type: 'number', group: 'Transfer', placeholder: 'SEC', describe: 'give up on a peer silent this long', defaultDescription: '15' },
  'log-level': { type: 'string', group: 'Logging', placeholder: 'LEVEL', describe: 'least severe messages logged', choices: LOG_LEVELS, defaultDescription: 'info' },
  'key-file': { type: 'string', group: 'Security', placeholder: 'FILE', describe: 'pre-shared 32-byte key: every packet AES-256-GCM sealed; sender and receivers need the same key', defaultDescription: 'none: CRC-32 only' },
} as const satisfies FlagTable;

export const SEND = {
  command: { type: 'string', group: 'Input', placeholder: 'CMD', describe: 'dump command to run (its exit status is checked); else read stdin' },
  ttl: { type: 'number', group: 'Network', placeholder: 'N', describe: 'multicast TTL (1 = this subnet only)', defaultDescription: '1' },
  receivers: { type: 'string', group: 'Receivers', placeholder: 'NAMES', describe: 'comma-separated receiver names: only these may join; --min-receivers defaults to their number', defaultDescription: 'anyone' },
  'min-receivers': { type: 'number', group: 'Receivers', placeholder: 'N', describe: 'start as soon as this many receivers joined', defaultDescription: '1' },
  'min-wait-sec': { type: 'number', group: 'Receivers', placeholder: 'SEC', describe: 'after the first join, wait at least this long for more', defaultDescription: '0' },
  'max-wait-sec': { type: 'number', group: 'Receivers', placeholder: 'SEC', describe: 'stop waiting for --min-receivers after this long; 0 = forever', defaultDescription: '0' },
  'max-wait-min-receivers': { type: 'number', group: 'Receivers', placeholder: 'N', describe: 'at --max-wait-sec, start if at least this many joined', defaultDescription: '--min-receivers' },
  'max-rate-mbps': { type: 'number', group: 'Transfer', placeholder: 'MBPS', describe: 'maximum send rate, megabits per second of Ethernet frames (headers, preamble and gap counted)', defaultDescription: '1000' },
  'payload-bytes': { type: 'string', group: 'Transfer', placeholder: 'N|auto', describe: 'data bytes per datagram; auto fills one frame of the outgoing interface\'s MTU (at most 9000): 1448 at MTU 1500, 8948 at 9000', defaultDescription: 'auto' },
  'window-mib': { type: 'number', group: 'Transfer', placeholder: 'MIB', describe: 'unacknowledged data kept for repairs, MiB', defaultDescription: '64' },
  'receiver-networks': { type: 'string', group: 'Security', placeholder: 'CIDRS|any', describe: 'receivers may join only from these IPv4 networks (comma-separated)', defaultDescription: 'the networks of the outgoing interface' },
  'drop-after-sec': { type: 'number', group: 'Receivers', placeholder: 'SEC', describe: 'drop a receiver that stays over half a window behind the fastest this long; 0 = never', defaultDescription: '0' },
  report: { type: 'string', group: 'Output', placeholder: 'FILE', describe: 'also write the final report as JSON to this file' },
  ...(Object.fromEntries(Object.entries(SOURCE_FLAGS).map(([k, v]) => [k, { ...v, group: 'Input' }])) as { readonly [K in keyof typeof SOURCE_FLAGS]: Flag }),
  compress: { type: 'string', group: 'Input', placeholder: 'zstd[:LEVEL]|off', describe: 'compress the dump with zstd (all cores) before sending; receivers decompress it (text dumps gain, pg_dump -Fc does not)', defaultDescription: 'off' },
} as const satisfies FlagTable;

/** Help form of the restore presets' flags (their tables say only string or boolean). */
const RESTORE_HELP: Readonly<Record<string, Partial<Flag>>> = {
  restore: { placeholder: 'PRESET', choices: PRESET_NAMES },
  database: { placeholder: 'DB' },
  'db-host': { placeholder: 'HOST' },
  'db-port': { placeholder: 'PORT', type: 'number' },
  'db-user': { placeholder: 'USER' },
  'restore-arg': { placeholder: 'OPT' },
  'spool-dir': { placeholder: 'DIR' },
  'restore-user': { placeholder: 'USER' },
  jobs: { placeholder: 'N|auto' },
};

/** A preset flag as help shows it: a trailing "[default]" in its text becomes the default. */
function restoreFlag(key: string, spec: { type: 'string' | 'boolean'; describe: string; array?: boolean }): Flag {
  const m = /^(.*?)\s*\[([^\]]*)\]$/.exec(spec.describe);
  return {
    type: spec.type, group: 'Restore', describe: m ? m[1] : spec.describe,
    ...(m ? { defaultDescription: m[2] } : {}), ...(spec.array ? { array: true } : {}), ...RESTORE_HELP[key],
  };
}

type RestoreTable = { readonly [K in keyof typeof RESTORE_FLAGS]: Flag };
const RESTORE = Object.fromEntries(Object.entries(RESTORE_FLAGS).map(([k, v]) => [k, restoreFlag(k, v)])) as RestoreTable;

export const RECEIVE = {
  output: { type: 'string', group: 'Output', placeholder: 'PATH', describe: 'write the stream to FILE (as a temp file beside it until verified), or archive into DIR / a name template with {timestamp} {job} {name}' },
  keep: { type: 'number', group: 'Output', placeholder: 'N', describe: 'archive: keep this many newest files of the template, remove older ones; 0 = all', defaultDescription: '0' },
  ...RESTORE,
  pipe: { type: 'string', group: 'Output', placeholder: 'CMD', describe: 'feed the stream to this command (e.g. "pg_restore -d app")' },
  stdout: { type: 'boolean', group: 'Output', describe: 'write to stdout too (the default when no --output/--pipe/--restore)' },
  name: { type: 'string', group: 'Transfer', placeholder: 'NAME', describe: 'receiver name in the sender\'s report', defaultDescription: 'hostname' },
  sender: { type: 'string', group: 'Network', placeholder: 'ADDR', describe: 'follow only a sender at this IPv4 address', defaultDescription: 'any sender of the job' },
  report: { type: 'string', group: 'Output', placeholder: 'FILE', describe: 'also write this receiver\'s result as JSON to this file' },
  'start-timeout-sec': { type: 'number', group: 'Transfer', placeholder: 'SEC', describe: 'give up if no sender accepted us this long; 0 = wait forever', defaultDescription: '0' },
  'max-clock-skew-sec': { type: 'number', group: 'Security', placeholder: 'SEC', describe: 'refuse a sender whose announce is further than this from our clock: a replay, or clocks out of sync', defaultDescription: '300' },
  'seen-sessions': { type: 'string', group: 'Security', placeholder: 'FILE', describe: 'file of session ids already received: refused if announced again; a verified session is added (the daemon sets one per job)' },
  'max-window-mib': { type: 'number', group: 'Transfer', placeholder: 'MIB', describe: 'refuse senders whose window needs more memory than this', defaultDescription: '1024' },
  'source-state': { type: 'string', group: 'Security', placeholder: 'FILE', describe: 'split-brain guard: file of the source identity this job last accepted; a different source is refused (the daemon sets one per job)' },
  'accept-new-source': { type: 'boolean', group: 'Security', describe: 'accept a changed source identity this run (after a planned failover; see dbcast accept-source)' },
  'allow-replica-source': { type: 'boolean', group: 'Security', describe: 'restore dumps taken on a replica / read-only server (the sender must allow it too)' },
  store: { type: 'string', group: 'Output', placeholder: 'plain|compressed', describe: '--output of a compressed stream: the dump as the sender\'s tool wrote it, or the zstd stream as sent (name + .zst, its own .sha256)', choices: ['plain', 'compressed'], defaultDescription: 'plain' },
} as const satisfies FlagTable;

/** yargs options for help: typed, grouped in GROUPS order, the placeholder before the text. */
export function helpOptions(table: FlagTable): Record<string, Record<string, unknown>> {
  const rank = (f: Flag): number => GROUPS.indexOf(f.group);
  const entries = Object.entries(table).sort(([, a], [, b]) => rank(a) - rank(b));
  return Object.fromEntries(entries.map(([key, f]) => [key, {
    type: f.type,
    group: `${f.group}:`,
    describe: f.placeholder ? `${f.placeholder}: ${f.describe}` : f.describe,
    ...(f.defaultDescription !== undefined ? { defaultDescription: f.defaultDescription } : {}),
    ...(f.choices ? { choices: f.choices } : {}),
    ...(f.array ? { array: true } : {}),
  }]));
}

/** The flags as given on the command line, as text (booleans as booleans, repeatable flags as
 *  lists): what src/options.ts validates, as it validates a config file's values. */
export function flagValues(args: readonly string[], table: FlagTable): Record<string, unknown> {
  const keys = Object.keys(table);
  refuseBooleanValues(args, new Set(keys.filter((k) => table[k].type === 'boolean')));
  const parsed = Parser(args as string[], {
    string: keys.filter((k) => table[k].type !== 'boolean'),
    boolean: keys.filter((k) => table[k].type === 'boolean'),
    array: keys.filter((k) => table[k].array),
    configuration: { 'camel-case-expansion': false, 'dot-notation': false },
  });
  return Object.fromEntries(keys.filter((k) => parsed[k] !== undefined).map((k) => [k, parsed[k]]));
}

/** yargs reads `--as-standby=yes` as false, silently: a boolean takes no value, or true/false.
 *  (A config key's value reaches here the same way: src/config.ts jobArgs.) */
function refuseBooleanValues(args: readonly string[], booleans: ReadonlySet<string>): void {
  for (const arg of args) {
    if (arg === '--') return;
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (m && booleans.has(m[1]) && m[2] !== 'true' && m[2] !== 'false') {
      throw new UsageError(m[1], 'the flag alone (or =true / =false)', m[2]);
    }
  }
}
