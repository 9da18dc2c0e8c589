// Put a restored staging schema in place of the live one. Base tables (and sequences) move
// in one multi-table RENAME TABLE, which is atomic: the live schema's old tables go to
// <db>__previous, the staging tables take their place. Views, triggers, routines and events
// cannot move between schemas: they are read from the staging schema and created again in
// the live one (triggers on the old tables are dropped first, or the RENAME is refused).
import { MyClient } from './client';
import { PartialSwapError } from '../swap-error';
import { myIdent, previousName, sqlLiteral, stagingName } from '../target';

interface Definition { kind: 'view' | 'trigger' | 'procedure' | 'function' | 'event'; name: string; sqlMode: string; create: string }

async function names(c: MyClient, db: string, sql: string): Promise<string[]> {
  return (await c.query(`listing objects of ${db}`, sql.replace('?', sqlLiteral(db)))).map((r) => r[0]);
}

const baseTables = (c: MyClient, db: string) => names(c, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SEQUENCE') ORDER BY TABLE_NAME");
const views = (c: MyClient, db: string) => names(c, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('VIEW', 'SYSTEM VIEW') ORDER BY TABLE_NAME");
const triggers = (c: MyClient, db: string) => names(c, db, 'SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY ACTION_ORDER');
const events = (c: MyClient, db: string) => names(c, db, 'SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?');
async function routines(c: MyClient, db: string): Promise<Array<{ type: 'procedure' | 'function'; name: string }>> {
  const rows = await c.query(`listing routines of ${db}`, `SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ${sqlLiteral(db)} AND ROUTINE_TYPE IN ('PROCEDURE', 'FUNCTION')`);
  return rows.map(([type, name]) => ({ type: type.toLowerCase() as 'procedure' | 'function', name }));
}

/** Definitions as SHOW CREATE prints them with `db` current: names inside are unqualified. */
async function definitions(c: MyClient, db: string): Promise<Definition[]> {
  const defs: Definition[] = [];
  const show = async (what: string, n: string) => (await c.query(`reading ${what} ${n}`, `SHOW CREATE ${what.toUpperCase()} ${myIdent(n)}`, db))[0];
  for (const r of await routines(c, db)) { const row = await show(r.type, r.name); defs.push({ kind: r.type, name: r.name, sqlMode: row[1], create: row[2] }); }
  for (const n of await views(c, db)) { const row = await show('view', n); defs.push({ kind: 'view', name: n, sqlMode: '', create: row[1] }); }
  for (const n of await triggers(c, db)) { const row = await show('trigger', n); defs.push({ kind: 'trigger', name: n, sqlMode: row[1], create: row[2] }); }
  for (const n of await events(c, db)) { const row = await show('event', n); defs.push({ kind: 'event', name: n, sqlMode: row[1], create: row[3] }); }
  return defs;
}

const withMode = (d: Definition): string[] => (d.sqlMode ? [`SET SESSION sql_mode = ${sqlLiteral(d.sqlMode)}`, d.create] : [d.create]);

async function createAll(c: MyClient, db: string, defs: Definition[]): Promise<void> {
  const of = (k: Definition['kind']) => defs.filter((d) => d.kind === k);
  await c.exec(`creating routines in ${db}`, [...of('procedure'), ...of('function')].flatMap(withMode), db);
  // Views on views: create in passes until every one exists (dependency order unknown).
  let pending = of('view');
  while (pending.length > 0) {
    const failed: Definition[] = [];
    let lastError: Error | null = null;
    for (const v of pending) {
      try { await c.exec(`creating view ${v.name} in ${db}`, [v.create], db); } catch (err) { failed.push(v); lastError = err as Error; }
    }
    if (failed.length === pending.length) throw lastError as Error;
    pending = failed;
  }
  await c.exec(`creating triggers in ${db}`, of('trigger').flatMap(withMode), db);
  await c.exec(`creating events in ${db}`, of('event').flatMap(withMode), db);
}

export async function swapMariadb(c: MyClient, db: string): Promise<string> {
  const stg = stagingName(db); const prev = previousName(db);
  const liveExists = (await c.query('looking for the live schema', `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(db)}`)).length > 0;
  const newDefs = await definitions(c, stg);
  const liveDefs = liveExists ? await definitions(c, db) : [];
  const charset = (await c.query('reading the staging schema', `SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlLiteral(liveExists ? db : stg)}`))[0];
  const schemaOptions = ` CHARACTER SET ${charset[0]} COLLATE ${charset[1]}`;

  if (liveExists) await c.exec(`preparing ${prev}`, [`DROP DATABASE IF EXISTS ${myIdent(prev)}`, `CREATE DATABASE ${myIdent(prev)}${schemaOptions}`]);
  else await c.exec(`creating ${db}`, [`CREATE DATABASE ${myIdent(db)}${schemaOptions}`]);
  const oldTables = liveExists ? await baseTables(c, db) : [];
  const newTables = await baseTables(c, stg);
  // Tables with triggers cannot change schema.
  await c.exec(`dropping triggers in ${stg}`, newDefs.filter((d) => d.kind === 'trigger').map((d) => `DROP TRIGGER ${myIdent(stg)}.${myIdent(d.name)}`));
  const liveTriggers = liveDefs.filter((d) => d.kind === 'trigger');
  await c.exec(`dropping triggers in ${db}`, liveTriggers.map((d) => `DROP TRIGGER ${myIdent(db)}.${myIdent(d.name)}`));
  const renames = [
    ...oldTables.map((t) => `${myIdent(db)}.${myIdent(t)} TO ${myIdent(prev)}.${myIdent(t)}`),
    ...newTables.map((t) => `${myIdent(stg)}.${myIdent(t)} TO ${myIdent(db)}.${myIdent(t)}`),
  ];
  try {
    if (renames.length > 0) await c.exec('swapping the tables', [`RENAME TABLE ${renames.join(', ')}`]);
  } catch (err) {
    await c.exec(`restoring the triggers of ${db}`, liveTriggers.flatMap(withMode), db).catch(() => undefined);
    throw err;
  }
  // The tables are swapped. Replace the other objects; a failure here is reported as such.
  const drops = liveDefs.filter((d) => d.kind !== 'trigger').map((d) => `DROP ${d.kind.toUpperCase()} IF EXISTS ${myIdent(db)}.${myIdent(d.name)}`);
  try {
    await c.exec(`dropping the old views, routines and events of ${db}`, drops);
    await createAll(c, db, newDefs);
  } catch (err) {
    throw new PartialSwapError(`the tables were swapped into ${db} (old ones in ${prev}), but ${(err as Error).message}`);
  }
  await c.exec(`dropping ${stg}`, [`DROP DATABASE ${myIdent(stg)}`]);
  return liveExists ? `swapped into ${db}; the old tables are kept in ${prev}` : `restored into new schema ${db}`;
}
