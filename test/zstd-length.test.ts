// The plain-length frame a compressed stream ends with (runtime/zstd-length.ts): round trip,
// anything else is not taken for one, and the zstd program skips it (a stored .zst stays valid).
import t from 'tap';
import { execFileSync } from 'child_process';
import { decodeZstdLength, encodeZstdLength, ZSTD_LENGTH_FRAME_BYTES } from '../runtime/zstd-length';

t.test('round trip', async (t) => {
  for (const n of [0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) t.equal(decodeZstdLength(encodeZstdLength(n)), n, `${n}`);
  t.equal(encodeZstdLength(7).length, ZSTD_LENGTH_FRAME_BYTES);
});

t.test('not ours: null', async (t) => {
  const good = encodeZstdLength(1234);
  for (const i of [0, 3, 4, 8, 11]) {
    const b = Buffer.from(good); b[i] ^= 1;
    t.equal(decodeZstdLength(b), null, `byte ${i} changed`);
  }
  t.equal(decodeZstdLength(good.subarray(1)), null, 'too short');
  const huge = Buffer.from(good); huge.writeBigUInt64LE(2n ** 60n, 12);
  t.equal(decodeZstdLength(huge), null, 'beyond a safe integer');
});

t.test('zstd -d skips it', async (t) => {
  const plain = Buffer.from('COPY t (a) FROM stdin;\n'.repeat(1000));
  const z = execFileSync('zstd', ['-q', '-c'], { input: plain });
  t.same(execFileSync('zstd', ['-q', '-d', '-c'], { input: Buffer.concat([z, encodeZstdLength(plain.length)]) }), plain);
});
