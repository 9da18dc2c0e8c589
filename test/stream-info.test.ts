// ANNOUNCE's info text: what a sender says about its stream, read from the network.
import t from 'tap';
import { MAX_ANNOUNCE_INFO_BYTES } from '../protocol';
import { decodeStreamInfo, encodeStreamInfo } from '../runtime/stream-info';

t.test('round trip, and nothing said is the empty text', async (t) => {
  t.equal(encodeStreamInfo({}), '');
  t.same(decodeStreamInfo(''), { ok: true, info: {} });
  const text = encodeStreamInfo({ compression: 'zstd', source: { kind: 'postgres', systemId: '7301' } });
  t.same(decodeStreamInfo(text), { ok: true, info: { compression: 'zstd', source: { kind: 'postgres', systemId: '7301' } } });
});

t.test('malformed info is a reason, never a throw', async (t) => {
  for (const bad of ['{', '[]', 'null', '"x"', '{"compression":"lz4"}', '{"compression":1}', '{"source":[1]}', '{"source":null}']) {
    const r = decodeStreamInfo(bad);
    t.equal(r.ok, false, `refused: ${bad}`);
    if (!r.ok) t.match(r.reason, /stream info|compression/);
  }
  t.same(decodeStreamInfo('{"extra":1}'), { ok: true, info: {} }, 'unknown fields are left out');
});

t.test('the encoder refuses what ANNOUNCE cannot carry', async (t) => {
  t.throws(() => encodeStreamInfo({ source: { x: 'y'.repeat(MAX_ANNOUNCE_INFO_BYTES) } }), RangeError);
});
