// The replication coordinates a dump carries, for the report: what mariadb-dump writes with
// --master-data (the dumped server's own binlog position: CHANGE MASTER TO MASTER_LOG_FILE=...,
// and with --gtid MASTER_USE_GTID=slave_pos plus a deferred SET GLOBAL gtid_slave_pos) or with
// --dump-slave (the position in the binlog of the primary that the dumped replica follows:
// CHANGE MASTER '' TO ...), each either active (=1) or commented out (=2). MySQL's
// --source-data / GTID_PURGED forms are read too. Parsed from the dump's first and last lines.

export type CoordinateSource = 'primary' | 'replica-source';

export interface Coordinate {
  form: 'binlog' | 'gtid' | 'use-gtid';
  /** binlog: "file:position"; gtid: the GTID list; use-gtid: "slave_pos". */
  value: string;
  /** False when the dump has it as a `-- ` comment. */
  active: boolean;
}

export interface Coordinates { source: CoordinateSource; list: Coordinate[] }

const CHANGE = /^(-- +)?(?:\/\*![0-9]+ *)?(?:CHANGE MASTER(?: +'([^']*)')?|CHANGE REPLICATION SOURCE) +TO +(.*?);?\s*$/i;
const GTID = /^(-- +)?(?:\/\*![0-9]+ *)?SET +(?:GLOBAL +gtid_slave_pos|@@GLOBAL\.GTID_PURGED) *= *(?:\/\*![0-9]+ *'\+' *\*\/ *)?'([^']*)'/i;
/** Comments mariadb-dump (or mysqldump) writes next to --dump-slave / --dump-replica positions. */
const REPLICA_HINT = /SHOW (?:SLAVE|REPLICA) STATUS|dump-slave|dump-replica/i;

const option = (opts: string, name: string): string | undefined => new RegExp(`\\b${name} *= *(?:'([^']*)'|([0-9A-Za-z_]+))`, 'i').exec(opts)?.slice(1).find((x) => x !== undefined);

export function parseCoordinates(text: string): Coordinates | null {
  const list: Coordinate[] = [];
  let replica = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('--') && REPLICA_HINT.test(line)) replica = true;
    const c = CHANGE.exec(line);
    if (c) {
      const active = c[1] === undefined;
      if (c[2] !== undefined) replica = true; // CHANGE MASTER 'connection' TO: --dump-slave's form
      const file = option(c[3], '(?:MASTER|SOURCE)_LOG_FILE');
      const pos = option(c[3], '(?:MASTER|SOURCE)_LOG_POS');
      const useGtid = option(c[3], 'MASTER_USE_GTID');
      if (file !== undefined && pos !== undefined) list.push({ form: 'binlog', value: `${file}:${pos}`, active });
      if (useGtid !== undefined) list.push({ form: 'use-gtid', value: useGtid, active });
      continue;
    }
    const g = GTID.exec(line);
    if (g && g[2] !== '') list.push({ form: 'gtid', value: g[2], active: g[1] === undefined });
  }
  return list.length > 0 ? { source: replica ? 'replica-source' : 'primary', list } : null;
}

const FORM_NAMES = { binlog: 'binlog', gtid: 'GTID', 'use-gtid': 'MASTER_USE_GTID=' } as const;

/** One phrase for the report: which kind, each position, active or commented, stripped or not. */
export function describeCoordinates(c: Coordinates, stripped: boolean): string {
  const kind = c.source === 'primary' ? "the dumped server's own, --master-data" : 'of the primary the dumped replica follows, --dump-slave';
  const items = c.list.map((x) => `${FORM_NAMES[x.form]}${x.form === 'use-gtid' ? '' : ' '}${x.value} (${x.active ? (stripped ? 'active, stripped' : 'active, applied') : 'commented'})`);
  return `coordinates (${kind}): ${items.join(', ')}`;
}
