// Rewrite one string of a pg_dump custom-format archive's table of contents, as an attacker
// who forges a dump would. Strings there are a sign byte + a 4-byte little-endian length + the
// bytes; an archive written to a pipe (as dbcast's `--command pg_dump -Fc` is) has no data
// offsets, so pg_restore reads it in order and a longer string is fine.

export function replaceTocString(archive: Buffer, oldText: string, newText: string): Buffer {
  if (archive.subarray(0, 5).toString() !== 'PGDMP' || archive[8] !== 4) throw new Error('not a custom-format archive with 4-byte integers');
  const old = Buffer.from(oldText);
  const at = archive.indexOf(old);
  if (at < 5) throw new Error(`"${oldText.slice(0, 40)}" not in the archive`);
  const prefix = archive.subarray(at - 5, at);
  if (prefix[0] !== 0 || prefix.readUInt32LE(1) !== old.length) throw new Error('the text is not a whole TOC string');
  const repl = Buffer.from(newText);
  const len = Buffer.alloc(5); len.writeUInt32LE(repl.length, 1);
  return Buffer.concat([archive.subarray(0, at - 5), len, repl, archive.subarray(at + old.length)]);
}

/** The archive's whole CREATE DATABASE statement, as pg_dump wrote it. */
export function createDatabaseStatement(archive: Buffer): string {
  const at = archive.indexOf(Buffer.from('CREATE DATABASE '));
  if (at < 5) throw new Error('no CREATE DATABASE in the archive');
  return archive.subarray(at, at + archive.readUInt32LE(at - 4)).toString();
}
