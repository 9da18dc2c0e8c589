// Before the first byte: find the dump program and the client, read the source's identity,
// refuse a standby / read-only source unless --allow-replica-source, and build the dump command.
//
// The identity is read a moment before the dump starts, on the same connection flags. Were the
// flags to reach another server in between (a failover moving a virtual address), the announce
// would name the wrong server: so the identity is read again once the dump has finished, and a
// dump whose server changed is failed (the receivers are told to abort) instead of delivered.
import * as os from 'os';
import { EXIT } from '../../runtime/exit-codes';
import type { Logger } from '../../runtime/log';
import { writeJsonFile } from '../../runtime/report';
import { UsageError } from '../../runtime/usage-error';
import type { InputSource } from '../input';
import { findOnPath, shellCommand } from './client';
import type { SourceIdentity } from './identity';
import type { SourcePreset, SourceTarget } from './preset';
import { sourcePresetNamed } from './presets';

export type PreparedSource =
  | {
    ok: true;
    /** The dump command, as /bin/sh runs it. */
    command: string;
    identity: SourceIdentity;
    /** The input, failed if the source's identity changed while it was dumped. */
    confirmAfterDump(input: InputSource): InputSource;
  }
  | { ok: false; exitCode: number };

/** Why the sender did not start (its report file when it was asked for one). */
export type SourceRefusal = 'source-in-recovery' | 'source-unreadable' | 'source-unsuitable';

export function describeIdentity(id: SourceIdentity): string {
  const role = id.engine === 'postgres' ? (id.inRecovery ? 'standby (in recovery)' : 'primary') : (id.inRecovery ? 'read_only' : 'read-write');
  const where = id.engine === 'postgres' ? `system ${id.systemId} timeline ${id.timeline}` : id.systemId;
  const pos = id.position ? `, ${id.engine === 'postgres' ? 'LSN' : 'GTID'} ${id.position}` : '';
  return `${id.engine} ${where}, ${role}${pos}, ${id.database ? `database ${id.database}` : 'whole server'}${id.replicaAllowed ? ', replica allowed' : ''}`;
}

function program(preset: SourcePreset, names: readonly string[], what: string): string {
  const found = findOnPath(names);
  if (found === null) {
    throw new UsageError('source', `${names.join(' or ')} on PATH`, preset.name,
      `--source ${preset.name} needs ${names.join(' or ')} (${what}), not found on PATH: install the server's client tools`);
  }
  return found;
}

/** The fields that name the server; the position moves on during any dump. */
const sameServer = (a: SourceIdentity, b: SourceIdentity): boolean =>
  a.engine === b.engine && a.systemId === b.systemId && a.timeline === b.timeline && a.inRecovery === b.inRecovery;

export async function prepareSource(target: SourceTarget, ctx: { log: Logger; job: string; reportFile: string | undefined }): Promise<PreparedSource> {
  const { log } = ctx;
  const preset = sourcePresetNamed(target.kind);
  if (!preset) throw new Error(`no source preset '${target.kind}'`);
  const dump = program(preset, preset.dumpPrograms, 'the dump');
  const client = program(preset, preset.clientPrograms, 'the identity query');
  const refuse = (exitCode: number, reason: SourceRefusal, message: string, identity?: SourceIdentity): PreparedSource => {
    log.error(message);
    // Shaped like a report the daemon summarizes ("outcome: message") and records.
    if (ctx.reportFile) writeJsonFile(ctx.reportFile, { job: ctx.job, outcome: 'source-refused', reason, message, ...(identity ? { source: identity } : {}), exitCode });
    return { ok: false, exitCode };
  };
  const identify = async (): Promise<{ ok: true; identity: SourceIdentity } | { ok: false; reason: string }> => {
    const r = await preset.identify(client, target);
    if (!r.ok) return r;
    return { ok: true, identity: { ...r.identity, replicaAllowed: target.allowReplica, host: os.hostname(), database: target.database } };
  };

  const first = await identify();
  if (!first.ok) return refuse(EXIT.ABORTED, 'source-unreadable', `cannot read the source's identity, nothing sent: ${first.reason}`);
  const identity = first.identity;
  if (identity.inRecovery && !target.allowReplica) {
    const what = identity.engine === 'postgres' ? 'a standby (pg_is_in_recovery() is true)' : 'read-only (@@read_only = 1)';
    return refuse(EXIT.USAGE, 'source-in-recovery', `--allow-replica-source: the source is ${what}, nothing sent: ${describeIdentity(identity)}. ` +
      'Dump from the primary, or give --allow-replica-source to send a replica\'s copy (announced as such)', identity);
  }
  const unsuitable = preset.unsuitable ? await preset.unsuitable(client, target) : null;
  if (unsuitable !== null) return refuse(EXIT.USAGE, 'source-unsuitable', `--source ${preset.name}: ${unsuitable}, nothing sent`, identity);
  if (identity.inRecovery) log.warn(`the source is a replica: sending it because --allow-replica-source was given; receivers see replicaAllowed in the announce`);
  log.info(`source: ${describeIdentity(identity)}`, { source: identity });
  const command = shellCommand(preset.dumpArgv(dump, target));
  log.info(`dump command: ${command}`);

  const confirmAfterDump = (input: InputSource): InputSource => ({
    ...input,
    done: input.done.then(async (res) => {
      if (!res.ok) return res;
      const again = await identify();
      if (!again.ok) return { ok: false, message: `cannot read the source's identity again after the dump: ${again.reason}` };
      if (!sameServer(identity, again.identity)) {
        return { ok: false, message: `the source changed during the dump: ${describeIdentity(identity)} before, ${describeIdentity(again.identity)} after` };
      }
      return res;
    }),
  });
  return { ok: true, command, identity, confirmAfterDump };
}
