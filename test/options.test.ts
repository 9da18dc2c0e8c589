// Unit tier for option defaults that depend on the host: the automatic payload size.
import t from 'tap';
import * as fs from 'fs';
import { ENVELOPE_OVERHEAD_BYTES } from '../protocol';
import { parseSendOptions } from '../src/options';
import { interfaceMtu, outgoingInterface } from '../runtime/net';

const loMtu = interfaceMtu('lo');

t.test('the interface is found by its address, and its MTU read', async (t) => {
  t.equal(outgoingInterface('127.0.0.1', '239.1.2.3'), 'lo');
  t.equal(outgoingInterface('203.0.113.254', '239.1.2.3'), null, 'an address no interface has');
  t.ok(loMtu !== null && loMtu >= 1500, `lo MTU ${loMtu}`);
  t.equal(interfaceMtu('no-such-interface0'), null);
});

t.test('without an interface the route to the group decides', { skip: fs.existsSync('/proc/net/route') ? false : 'no /proc/net/route on this system' }, async (t) => {
  const name = outgoingInterface(undefined, '239.1.2.3');
  t.ok(name === null || fs.existsSync(`/sys/class/net/${name}`), `route leaves by ${name}`);
});

t.test('payload-bytes: auto fills one frame of the interface MTU, capped at a 9000-byte frame', async (t) => {
  const lo = parseSendOptions({ interface: '127.0.0.1' });
  t.equal(lo.payloadBytes, Math.min(9000, loMtu ?? 1500) - 52, 'lo');
  t.equal(parseSendOptions({ interface: '127.0.0.1', 'payload-bytes': 'auto' }).payloadBytes, lo.payloadBytes, 'auto spelled out');
  t.equal(parseSendOptions({ interface: '127.0.0.1', 'payload-bytes': '1000' }).payloadBytes, 1000, 'an explicit size wins');
  t.throws(() => parseSendOptions({ 'payload-bytes': 'big' }), { code: 'E_USAGE', key: 'payload-bytes' });
});

t.test('payload-bytes auto leaves room for the envelope in keyed mode', async (t) => {
  const dir = fs.mkdtempSync('/tmp/dbcast-opt-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = `${dir}/k`;
  fs.writeFileSync(key, Buffer.alloc(32, 7), { mode: 0o600 });
  const plain = parseSendOptions({ interface: '127.0.0.1' }).payloadBytes;
  t.equal(parseSendOptions({ interface: '127.0.0.1', 'key-file': key }).payloadBytes, plain - ENVELOPE_OVERHEAD_BYTES);
});
