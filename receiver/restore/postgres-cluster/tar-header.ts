// One 512-byte tar header (ustar, as pg_basebackup and mbstream's cousins write it) → an entry,
// or the reason it is refused. Pure: the extractor (tar-extractor.ts) decides what to do with it.
// Names are checked here so that nothing outside the staging directory can ever be named.

export const TAR_BLOCK_BYTES = 512;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** Relative path inside the archive, normalised ("./a//b/" → "a/b"); '' is the archive's root. */
  path: string;
  type: TarEntryType;
  /** The raw type flag, for messages. */
  flag: string;
  mode: number;
  sizeBytes: number;
  linkTarget: string;
}

export type HeaderResult = { ok: true; entry: TarEntry } | { ok: false; reason: string } | { ok: true; entry: null /* a zero block: end of archive */ };

/** A tar path → a relative path that stays inside the directory, or why it would not. */
export function safeEntryPath(name: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (name.length === 0) return { ok: false, reason: 'an entry without a name' };
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(name)) return { ok: false, reason: `an entry name with control characters (${JSON.stringify(name)})` };
  if (name.startsWith('/')) return { ok: false, reason: `an absolute path (${JSON.stringify(name)})` };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { ok: false, reason: `a path with ".." (${JSON.stringify(name)})` };
  return { ok: true, path: parts.join('/') };
}

function field(block: Buffer, start: number, len: number): string {
  const raw = block.subarray(start, start + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

/** Octal (NUL/space terminated), or GNU base-256 when the first byte has its top bit set. */
export function numericField(block: Buffer, start: number, len: number): number | null {
  const raw = block.subarray(start, start + len);
  if (raw[0] & 0x80) {
    let n = raw[0] & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + raw[i];
    return Number.isSafeInteger(n) ? n : null;
  }
  const s = raw.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return null;
  return parseInt(s, 8);
}

function checksumOk(block: Buffer): boolean {
  const want = numericField(block, 148, 8);
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i];
  return want === sum;
}

const TYPES: Record<string, TarEntryType> = { '0': 'file', '\0': 'file', '7': 'file', '5': 'directory', '2': 'symlink', '1': 'hardlink' };

export function parseTarHeader(block: Buffer): HeaderResult {
  if (block.length !== TAR_BLOCK_BYTES) return { ok: false, reason: 'a short tar header' };
  if (block.every((b) => b === 0)) return { ok: true, entry: null };
  if (!checksumOk(block)) return { ok: false, reason: 'a tar header with a bad checksum (not a tar stream, or a corrupt one)' };
  const magic = block.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0' && magic !== 'ustar ') return { ok: false, reason: 'a tar header without the ustar magic' };
  const flag = String.fromCharCode(block[156]);
  const prefix = magic === 'ustar\0' ? field(block, 345, 155) : '';
  const name = prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100);
  const sizeBytes = numericField(block, 124, 12);
  const mode = numericField(block, 100, 8);
  if (sizeBytes === null || mode === null) return { ok: false, reason: `a tar header with a malformed size or mode (${JSON.stringify(name)})` };
  const p = safeEntryPath(name);
  if (!p.ok) return p;
  return { ok: true, entry: { path: p.path, type: TYPES[flag] ?? 'other', flag, mode, sizeBytes, linkTarget: field(block, 157, 100) } };
}

/** Bytes of padding after an entry's data, up to the next block. */
export const paddingBytes = (size: number): number => (TAR_BLOCK_BYTES - (size % TAR_BLOCK_BYTES)) % TAR_BLOCK_BYTES;
