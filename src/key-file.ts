// --key-file: the pre-shared key for keyed mode. 32 bytes, raw or as 64 hex digits, in a file
// only its owner can read. Problems are local misuse: exit 2 naming the flag.
import * as fs from 'fs';
import { KEY_BYTES } from '../protocol';
import { UsageError } from './usage-error';

export function readKeyFile(file: string): Buffer {
  let st: fs.Stats;
  try { st = fs.statSync(file); } catch (err) {
    throw new UsageError('key-file', 'a readable key file (create one: head -c 32 /dev/urandom > FILE; chmod 600 FILE)', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!st.isFile()) throw new UsageError('key-file', 'a regular file', file);
  if ((st.mode & 0o077) !== 0) throw new UsageError('key-file', `a file only its owner can read (chmod 600 ${file})`, `${file} has mode ${(st.mode & 0o777).toString(8)}`);
  const data = fs.readFileSync(file);
  if (data.length === KEY_BYTES) return data;
  const text = data.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  throw new UsageError('key-file', `${KEY_BYTES} random bytes, or ${KEY_BYTES * 2} hex digits (openssl rand -hex 32)`, `${file}: ${data.length} bytes`);
}
