// The flags of `dbcast send` and `dbcast receive`. The daemon's config accepts the same names
// as keys (src/config.ts), so this table is the one list of both. The --restore flags come
// from the restore presets (receiver/restore/restore-flags.ts).
import { RESTORE_FLAGS } from '../receiver/restore/restore-flags';

export const COMMON = {
  group: { type: 'string', describe: 'IPv4 multicast group [239.255.42.1]' },
  port: { type: 'string', describe: 'UDP port of the group [9000]' },
  interface: { type: 'string', describe: 'interface name or IPv4 address to use for multicast [routing default]' },
  job: { type: 'string', describe: 'job name; sender and receivers must agree [default]' },
  'idle-timeout-sec': { type: 'string', describe: 'give up on a peer silent this long [15]' },
  'log-level': { type: 'string', describe: 'error, warn, info, verbose or debug [info]' },
  'key-file': { type: 'string', describe: 'pre-shared 32-byte key: every packet AES-256-GCM sealed; sender and receivers need the same key [none: CRC-32 only]' },
} as const;

export const SEND = {
  command: { type: 'string', describe: 'dump command to run (its exit status is checked); else read stdin' },
  ttl: { type: 'string', describe: 'multicast TTL (1 = this subnet only) [1]' },
  receivers: { type: 'string', describe: 'comma-separated receiver names: only these may join; min-receivers defaults to their number [anyone]' },
  'min-receivers': { type: 'string', describe: 'start as soon as this many receivers joined [1]' },
  'min-wait-sec': { type: 'string', describe: 'after the first join, wait at least this long for more [0]' },
  'max-wait-sec': { type: 'string', describe: 'stop waiting for --min-receivers after this long; 0 = forever [0]' },
  'max-wait-min-receivers': { type: 'string', describe: 'at --max-wait-sec, start if at least this many joined [--min-receivers]' },
  'max-rate-mbps': { type: 'string', describe: 'maximum send rate, megabits per second of Ethernet frames (headers, preamble and gap counted) [1000]' },
  'payload-bytes': { type: 'string', describe: 'data bytes per datagram, or auto [auto: fills one frame of the outgoing interface\'s MTU (at most 9000): 1448 at MTU 1500, 8948 at 9000]' },
  'window-mib': { type: 'string', describe: 'unacknowledged data kept for repairs, MiB [64]' },
  'receiver-networks': { type: 'string', describe: 'receivers may join only from these IPv4 networks (CIDR, comma-separated), or any [the networks of the outgoing interface]' },
  'drop-after-sec': { type: 'string', describe: 'drop a receiver that stays over half a window behind the fastest this long; 0 = never [0]' },
  report: { type: 'string', describe: 'also write the final report as JSON to this file' },
} as const;

export const RECEIVE = {
  output: { type: 'string', describe: 'write the stream to FILE (as a temp file beside it until verified), or archive into DIR / a name template with {timestamp} {job} {name}' },
  keep: { type: 'string', describe: 'archive: keep this many newest files of the template, remove older ones; 0 = all [0]' },
  ...RESTORE_FLAGS,
  pipe: { type: 'string', describe: 'feed the stream to this command (e.g. "pg_restore -d app")' },
  stdout: { type: 'boolean', describe: 'write to stdout too (the default when no --output/--pipe)' },
  name: { type: 'string', describe: 'receiver name in the sender\'s report [hostname]' },
  sender: { type: 'string', describe: 'follow only a sender at this IPv4 address [any sender of the job]' },
  report: { type: 'string', describe: 'also write this receiver\'s result as JSON to this file' },
  'start-timeout-sec': { type: 'string', describe: 'give up if no sender accepted us this long; 0 = wait forever [0]' },
  'max-clock-skew-sec': { type: 'string', describe: 'refuse a sender whose announce is further than this from our clock: a replay, or clocks out of sync [300]' },
  'seen-sessions': { type: 'string', describe: 'file of session ids already received: refused if announced again; a verified session is added (the daemon sets one per job)' },
  'max-window-mib': { type: 'string', describe: 'refuse senders whose window needs more memory than this [1024]' },
} as const;
