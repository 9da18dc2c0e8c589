// Where a mariadb-dump file splits for a parallel import: the comment blocks it writes before
// each section (`--\n-- Table structure for table `t`\n--`), found with a byte search so a
// 500 MB spool is read once, in chunks, and never held in memory. The result is byte ranges:
//   prologue  the header and every schema section (tables, sequences, view stand-ins), in order
//   tables    each table's data section (its rows, then its triggers, as mariadb-dump orders them)
//   epilogue  events, routines, the final views, then the trailer (restores, deferred GTID)
// plus the header's session settings (SET NAMES, FOREIGN_KEY_CHECKS=0, ...) that every table's
// client replays first, and the trailer's restores it ends with. Anything it does not
// recognise makes it say why, and the caller imports the file in one piece instead.
import * as fs from 'fs';

export interface ByteRange { start: number; end: number }

export interface DumpPlan {
  prologue: ByteRange[];
  tables: Array<{ name: string; range: ByteRange }>;
  epilogue: ByteRange[];
  /** Header lines every table's client runs first (the session settings, the sandbox marker). */
  sessionSettings: Buffer;
  /** Trailer lines that put the session back (SET X=@OLD_X). */
  sessionRestore: Buffer;
}

export type SplitResult = { ok: true; plan: DumpPlan } | { ok: false; reason: string };

const SECTION_NEEDLE = Buffer.from('\n--\n-- ');
const DELIMITER_NEEDLE = Buffer.from('\nDELIMITER ');
const CHUNK_BYTES = 4 << 20;
/** A section title line, or a DELIMITER line, is read back at most this long. */
const TITLE_BYTES = 1024;
/** The header and the trailer are a few KB; more means this is not mariadb-dump's layout. */
const MAX_HEADER_BYTES = 1 << 20;
const TAIL_BYTES = 64 << 10;

const NAME = '`((?:[^`]|``)*)`';
const SECTIONS: Array<[RegExp, 'schema' | 'data' | 'objects' | 'database']> = [
  [new RegExp(`^(?:Table|Sequence) structure for (?:table )?${NAME}$`), 'schema'],
  [new RegExp(`^Temporary (?:table|view) structure for view ${NAME}$`), 'schema'],
  [new RegExp(`^Dumping data for table ${NAME}$`), 'data'],
  [new RegExp(`^Final view structure for view ${NAME}$`), 'objects'],
  [/^Dumping (?:events|routines) for database '.*'$/, 'objects'],
  [new RegExp(`^Current Database: ${NAME}$`), 'database'],
];

/** Session settings in the header: replayed in every table's client. Not SET GLOBAL. */
const SESSION_SET = /^(?:\/\*![0-9]+ *)?SET (?!GLOBAL\b|@@GLOBAL\b)/i;
const SANDBOX_MARKER = /^\/\*M!999999\\- enable the sandbox mode \*\//;
/** A trailer line restoring a session setting: /*!40101 SET SQL_MODE=@OLD_SQL_MODE *\/; */
const SESSION_RESTORE = /^(?:\/\*![0-9]+ *)?SET [A-Za-z_]+ *= *@OLD_[A-Za-z_]+ *(?:\*\/)? *;\s*$/;
/** What may follow the last section: comments, blank lines, restores, replication positions. */
const TRAILER_LINE = /^(?:\s*|--.*|(?:\/\*![0-9]+ *)?SET [A-Za-z_]+ *= *@OLD_.*|(?:\/\*![0-9]+ *)?(?:CHANGE MASTER|CHANGE REPLICATION SOURCE|START (?:ALL )?SLAVES?|START REPLICA|SET GLOBAL gtid_slave_pos|SET @@GLOBAL\.GTID_PURGED)\b.*)$/i;

interface Hit { at: number; kind: 'section' | 'delimiter' }

/** Every occurrence of the two needles, in file order (a virtual newline precedes byte 0). */
async function findHits(file: string): Promise<Hit[]> {
  const hits: Hit[] = [];
  const keep = Math.max(SECTION_NEEDLE.length, DELIMITER_NEEDLE.length) - 1;
  let carry = Buffer.from('\n');
  let carryStart = -1; // file offset of carry[0]
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    const buf = Buffer.concat([carry, chunk as Buffer]);
    for (const [needle, kind] of [[SECTION_NEEDLE, 'section'], [DELIMITER_NEEDLE, 'delimiter']] as const) {
      for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) {
        // A match lying wholly in the carried bytes was found in the previous round.
        if (i + needle.length > carry.length) hits.push({ at: carryStart + i + 1, kind });
      }
    }
    carry = buf.subarray(Math.max(0, buf.length - keep));
    carryStart += buf.length - carry.length;
  }
  return hits.sort((a, b) => a.at - b.at);
}

function readAt(fd: number, at: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  return b.subarray(0, fs.readSync(fd, b, 0, bytes, at));
}

const firstLine = (b: Buffer): string => { const nl = b.indexOf(10); return b.subarray(0, nl < 0 ? b.length : nl).toString('utf8'); };

/** `a``b` -> a`b */
const unquote = (s: string): string => s.replace(/``/g, '`');

/** Where the trailer begins: the run of trailer lines that ends the file. */
function trailerStart(fd: number, size: number): number {
  const from = Math.max(0, size - TAIL_BYTES);
  const tail = readAt(fd, from, size - from);
  let end = tail.length;
  let start = end;
  // Walk back line by line (the last line may lack its newline).
  while (end > 0) {
    const nl = tail.lastIndexOf(10, end - 2);
    const lineStart = nl + 1;
    if (lineStart === 0 && from > 0) break; // a line cut by the window: not judged
    const line = tail.subarray(lineStart, end).toString('utf8').replace(/\n$/, '');
    if (!TRAILER_LINE.test(line)) break;
    start = lineStart;
    end = lineStart;
  }
  return from + start;
}

export async function splitDump(file: string): Promise<SplitResult> {
  const size = fs.statSync(file).size;
  const hits = await findHits(file);
  const fd = fs.openSync(file, 'r');
  try {
    interface Section { start: number; titleEnd: number; kind: 'schema' | 'data' | 'objects' | 'database'; name: string }
    const sections: Section[] = [];
    let inDelimiter = false;
    for (const h of hits) {
      if (h.kind === 'delimiter') {
        const line = firstLine(readAt(fd, h.at, TITLE_BYTES)).trim();
        inDelimiter = line !== 'DELIMITER ;';
        continue;
      }
      if (inDelimiter) continue; // a comment inside a trigger or routine body
      const block = readAt(fd, h.at + 3, TITLE_BYTES); // past "--\n"
      const title = firstLine(block).replace(/^-- /, '').replace(/\s+$/, '');
      const after = block.subarray(Buffer.byteLength(firstLine(block)) + 1);
      if (!after.subarray(0, 3).equals(Buffer.from('--\n')) && !after.equals(Buffer.from('--'))) continue; // not a "--" block
      const match = SECTIONS.find(([re]) => re.test(title));
      if (!match) {
        if (sections.length === 0) continue; // the header's own comment blocks (replication positions)
        const current = sections[sections.length - 1];
        if (current.kind === 'objects') continue; // inside routines or views: imported in one piece anyway
        return { ok: false, reason: `an unknown section '${title.slice(0, 60)}' after ${current.kind === 'data' ? 'the data of' : ''} \`${current.name}\`` };
      }
      const name = unquote(match[0].exec(title)?.[1] ?? '');
      sections.push({ start: h.at, titleEnd: h.at + 3 + Buffer.byteLength(firstLine(block)) + 1 + 3, kind: match[1], name });
    }
    if (inDelimiter) return { ok: false, reason: 'a DELIMITER block is not closed' };
    if (sections.length === 0) return { ok: false, reason: 'no mariadb-dump section comments (a dump made with --skip-comments or --compact, or not by mariadb-dump)' };
    const headerEnd = sections[0].start;
    if (headerEnd > MAX_HEADER_BYTES) return { ok: false, reason: `${headerEnd} bytes before the first section: not mariadb-dump's header` };
    const trailer = Math.max(trailerStart(fd, size), sections[sections.length - 1].titleEnd);
    const header = readAt(fd, 0, headerEnd).toString('utf8').split('\n');
    const sessionSettings = header.filter((l) => SESSION_SET.test(l) || SANDBOX_MARKER.test(l));
    const sessionRestore = readAt(fd, trailer, size - trailer).toString('utf8').split('\n').filter((l) => SESSION_RESTORE.test(l));

    const plan: DumpPlan = {
      prologue: [{ start: 0, end: headerEnd }], tables: [], epilogue: [],
      sessionSettings: Buffer.from(sessionSettings.map((l) => `${l}\n`).join('')),
      sessionRestore: Buffer.from(sessionRestore.map((l) => `${l}\n`).join('')),
    };
    let seenData = false;
    sections.forEach((s, i) => {
      const range = { start: s.start, end: Math.min(i + 1 < sections.length ? sections[i + 1].start : trailer, trailer) };
      if (range.end <= range.start) return;
      if (s.kind === 'data') { plan.tables.push({ name: s.name, range }); seenData = true; }
      else if (s.kind === 'schema' || (s.kind === 'database' && !seenData)) plan.prologue.push(range);
      else plan.epilogue.push(range);
    });
    plan.epilogue.push({ start: trailer, end: size });
    return { ok: true, plan };
  } finally {
    fs.closeSync(fd);
  }
}

/** Bytes of a range (for scheduling the largest tables first). */
export const rangeBytes = (r: ByteRange): number => r.end - r.start;
