// The source identity in ANNOUNCE's info: read from the network, so a reason, never a throw.
import t from 'tap';
import { decodeSourceIdentity, formatSourceIdentity, sameSource } from '../runtime/source-identity';

const pg = { engine: 'postgres', systemId: '7301234567890123456', timeline: 3, inRecovery: false, replicaAllowed: false, host: 'db1', database: 'app', position: '0/3000060' };

t.test('a valid identity decodes; unknown keys are left out', async (t) => {
  t.same(decodeSourceIdentity({ ...pg, extra: 1 }), { ok: true, identity: pg });
  const maria = { engine: 'mariadb', systemId: 'server-id:1@db2', inRecovery: true, replicaAllowed: true, host: 'db2', database: '' };
  t.same(decodeSourceIdentity(maria), { ok: true, identity: maria });
});

t.test('malformed identities are reasons', async (t) => {
  const bad: [unknown, RegExp][] = [
    [null, /not an object/], [[1], /not an object/], ['x', /not an object/],
    [{ ...pg, engine: 'oracle' }, /engine/], [{ ...pg, systemId: '' }, /systemId is empty/],
    [{ ...pg, systemId: 7 }, /systemId is not a string/], [{ ...pg, systemId: 'x'.repeat(129) }, /longer/],
    [{ ...pg, host: 'a\nb' }, /control/], [{ ...pg, inRecovery: 'no' }, /inRecovery/],
    [{ ...pg, replicaAllowed: undefined }, /replicaAllowed/], [{ ...pg, timeline: 0 }, /timeline/],
    [{ ...pg, timeline: 1.5 }, /timeline/], [{ ...pg, timeline: 2 ** 32 }, /timeline/],
    [{ ...pg, engine: 'mariadb' }, /only for postgres/], [{ ...pg, position: '' }, /position/],
    [{ ...pg, database: 3 }, /database/],
  ];
  for (const [v, why] of bad) {
    const r = decodeSourceIdentity(v);
    t.equal(r.ok, false, JSON.stringify(v));
    if (!r.ok) t.match(r.reason, why);
  }
});

t.test('format for logs, and what counts as the same source', async (t) => {
  const r = decodeSourceIdentity(pg);
  if (!r.ok) throw new Error(r.reason);
  t.equal(formatSourceIdentity(r.identity), 'postgres 730123456789…/timeline 3 on db1 database app (primary)');
  t.equal(formatSourceIdentity({ ...r.identity, inRecovery: true, replicaAllowed: true, timeline: undefined, systemId: 'abc' }), 'postgres abc on db1 database app (replica, allowed)');
  t.ok(sameSource(r.identity, { ...r.identity, timeline: 4, host: 'db9' }));
  t.notOk(sameSource(r.identity, { ...r.identity, systemId: '1' }));
  t.notOk(sameSource(r.identity, { ...r.identity, engine: 'mariadb' }));
});
