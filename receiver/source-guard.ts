// The split-brain guard's decision, pure: given what the sender announced about its source, the
// identity this job last accepted and the job's settings, accept the stream or refuse it with an
// outcome the sender reports. Rivals (two senders at once) are the session's business
// (protocol/receiver-session.ts); this compares one announced source with the job's history.
//
//   announced                         last accepted          verdict
//   no identity                       none                   accept (nothing to check)
//   no identity                       some                   split-brain (an unidentified source replaces a known one)
//   malformed identity                any                    split-brain (cannot tell the source)
//   in recovery / read-only, and the
//     job or the sender did not allow it                     stale-source
//   engine or systemId differs        some                   split-brain
//   same source, older PG timeline    some                   stale-source
//   otherwise                                                accept
// An operator's acceptance (`dbcast accept-source JOB [--system-id ID]`, or --accept-new-source)
// turns the split-brain and older-timeline refusals into an accept; never a replica the job does
// not allow (that is a setting: --allow-replica-source).
import { decodeSourceIdentity, formatSourceIdentity, sameSource, type SourceIdentity } from '../runtime/source-identity';

export interface SourceGuardSettings {
  /** The job restores dumps taken on a replica / read-only server (when the sender chose that too). */
  allowReplicaSource: boolean;
}

/** What the operator accepted for the next run: any source, or the one with this systemId. */
export interface SourceAcceptance { systemId?: string }

export type SourceVerdict =
  | { accept: true; identity: SourceIdentity | null; note: string }
  | { accept: false; outcome: 'split-brain' | 'stale-source'; reason: string };

const HOW_TO_ACCEPT = 'after a planned failover run `dbcast accept-source JOB` on this receiver';

export function guardSource(
  announced: unknown | undefined, last: SourceIdentity | null, settings: SourceGuardSettings, acceptance: SourceAcceptance | null,
): SourceVerdict {
  if (announced === undefined) {
    if (last === null) return { accept: true, identity: null, note: 'the sender announced no source identity (nothing to check)' };
    if (acceptance && acceptance.systemId === undefined) return { accept: true, identity: null, note: 'unidentified source accepted by the operator' };
    return { accept: false, outcome: 'split-brain', reason: `the sender announced no source identity; this job last accepted ${formatSourceIdentity(last)} (${HOW_TO_ACCEPT})` };
  }
  const d = decodeSourceIdentity(announced);
  if (!d.ok) return { accept: false, outcome: 'split-brain', reason: `the announced source identity is malformed: ${d.reason}` };
  const id = d.identity;
  const shown = formatSourceIdentity(id);
  if (id.inRecovery && !id.replicaAllowed) {
    return { accept: false, outcome: 'stale-source', reason: `${shown} is in recovery / read-only and the sender did not allow a replica source` };
  }
  if (id.inRecovery && !settings.allowReplicaSource) {
    return { accept: false, outcome: 'stale-source', reason: `${shown} is in recovery / read-only; this job does not allow a replica source (--allow-replica-source)` };
  }
  const accepted = acceptance !== null && (acceptance.systemId === undefined || acceptance.systemId === id.systemId);
  if (last === null) return { accept: true, identity: id, note: `first source for this job: ${shown}` };
  if (!sameSource(last, id)) {
    if (accepted) return { accept: true, identity: id, note: `new source ${shown} accepted by the operator (was ${formatSourceIdentity(last)})` };
    return { accept: false, outcome: 'split-brain', reason: `source ${shown} is not the one this job accepted: ${formatSourceIdentity(last)} (${HOW_TO_ACCEPT})` };
  }
  if (last.timeline !== undefined && id.timeline !== undefined && id.timeline < last.timeline) {
    if (accepted) return { accept: true, identity: id, note: `older timeline ${id.timeline} accepted by the operator (was ${last.timeline})` };
    return { accept: false, outcome: 'stale-source', reason: `source ${shown} is on timeline ${id.timeline}, older than the ${last.timeline} this job accepted: a demoted primary` };
  }
  return { accept: true, identity: id, note: `source ${shown}` };
}
