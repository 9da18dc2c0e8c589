// The split-brain guard's table (receiver/source-guard.ts) and its state file.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import t from 'tap';
import { guardSource } from '../receiver/source-guard';
import { readSourceState, writeSourceState, EMPTY_SOURCE_STATE } from '../receiver/source-state';
import type { SourceIdentity } from '../runtime/source-identity';

const last: SourceIdentity = { engine: 'postgres', systemId: '7301', timeline: 3, inRecovery: false, replicaAllowed: false, host: 'db1', database: 'app' };
const strict = { allowReplicaSource: false };

t.test('the same source, same or newer timeline: accepted; the first source of a job too', async (t) => {
  t.match(guardSource(last, last, strict, null), { accept: true, identity: last });
  t.match(guardSource({ ...last, timeline: 4, host: 'db2' }, last, strict, null), { accept: true });
  t.match(guardSource(last, null, strict, null), { accept: true, note: /first source/ });
  t.match(guardSource(undefined, null, strict, null), { accept: true, identity: null });
});

t.test('a changed identity is split-brain until the operator accepts it', async (t) => {
  t.match(guardSource({ ...last, systemId: '9999' }, last, strict, null), { accept: false, outcome: 'split-brain', reason: /not the one this job accepted.*accept-source/ });
  t.match(guardSource({ ...last, engine: 'mariadb', timeline: undefined }, last, strict, null), { accept: false, outcome: 'split-brain' });
  t.match(guardSource({ ...last, systemId: '9999' }, last, strict, {}), { accept: true, note: /accepted by the operator/ });
  t.match(guardSource({ ...last, systemId: '9999' }, last, strict, { systemId: '9999' }), { accept: true });
  t.match(guardSource({ ...last, systemId: '8888' }, last, strict, { systemId: '9999' }), { accept: false, outcome: 'split-brain' }, 'an acceptance names one source');
  t.match(guardSource(undefined, last, strict, null), { accept: false, outcome: 'split-brain', reason: /no source identity/ });
  t.match(guardSource({ engine: 'postgres' }, last, strict, {}), { accept: false, outcome: 'split-brain', reason: /malformed/ });
});

t.test('an older timeline or a replica not allowed is stale-source', async (t) => {
  t.match(guardSource({ ...last, timeline: 2 }, last, strict, null), { accept: false, outcome: 'stale-source', reason: /timeline 2, older than the 3/ });
  t.match(guardSource({ ...last, timeline: 2 }, last, strict, {}), { accept: true });
  const replica = { ...last, inRecovery: true, replicaAllowed: true };
  t.match(guardSource(replica, last, strict, null), { accept: false, outcome: 'stale-source', reason: /allow-replica-source/ });
  t.match(guardSource(replica, last, strict, {}), { accept: false, outcome: 'stale-source' }, 'acceptance is not a setting');
  t.match(guardSource(replica, last, { allowReplicaSource: true }, null), { accept: true });
  t.match(guardSource({ ...replica, replicaAllowed: false }, last, { allowReplicaSource: true }, null), { accept: false, outcome: 'stale-source', reason: /sender did not allow/ });
});

t.test('the state file round-trips; a foreign file is an error, a missing one empty', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbcast-guard-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const f = path.join(dir, 'source-app.json');
  t.same(readSourceState(f), EMPTY_SOURCE_STATE);
  writeSourceState(f, { accepted: last, acceptedAtMs: 5, session: 'ab', acceptNext: { systemId: '9' } });
  t.same(readSourceState(f), { accepted: last, acceptedAtMs: 5, session: 'ab', acceptNext: { systemId: '9' } });
  fs.writeFileSync(f, '{"accepted":{"engine":"x"}}');
  t.throws(() => readSourceState(f), /accepted: source.engine/);
  fs.writeFileSync(f, 'nope');
  t.throws(() => readSourceState(f), /not JSON/);
});
