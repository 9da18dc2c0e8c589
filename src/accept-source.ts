// `dbcast accept-source JOB`: after a planned failover, the operator tells a receive job that the
// next run may come from a new source (any, or the one with --system-id). Written into the job's
// source state (receiver/source-state.ts); the run that verifies and restores clears it and
// records the new identity.
import * as fs from 'fs';
import { checkCanReplace } from '../runtime/safe-file';
import { readSourceState, sourceStatePath, writeSourceState } from '../receiver/source-state';
import { formatSourceIdentity, MAX_SYSTEM_ID_CHARS } from '../runtime/source-identity';
import { UsageError } from '../runtime/usage-error';
import { configuredJobs, DEFAULT_CONFIG, DEFAULT_STATE_DIR } from './status';

export function acceptSource(argv: Record<string, unknown>, out: (s: string) => void = (s) => process.stdout.write(s)): number {
  const job = String(argv.job);
  let file: string;
  if (argv['source-state'] !== undefined) file = String(argv['source-state']);
  else {
    let stateDir = argv['state-dir'] === undefined ? DEFAULT_STATE_DIR : String(argv['state-dir']);
    const config = argv.config !== undefined ? String(argv.config) : argv['state-dir'] === undefined && fs.existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null;
    if (config !== null && argv['state-dir'] === undefined) {
      try { stateDir = configuredJobs(config).stateDir; } catch (err) {
        throw new UsageError('config', 'a readable daemon config', `${config}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    file = sourceStatePath(stateDir, job);
  }
  const systemId = argv['system-id'] === undefined ? undefined : String(argv['system-id']);
  if (systemId !== undefined && (systemId === '' || systemId.length > MAX_SYSTEM_ID_CHARS)) {
    throw new UsageError('system-id', `the new source's system identifier (1..${MAX_SYSTEM_ID_CHARS} characters)`, systemId);
  }
  let state;
  try { state = readSourceState(file); checkCanReplace(file); } catch (err) {
    // Without --source-state the file is the state dir's: a host with no daemon has no state dir.
    throw new UsageError('source-state', `a source state file written by dbcast (or none yet) in a directory this user may write${argv['source-state'] === undefined ? ' (the daemon\'s state-dir; or give --source-state FILE or --config)' : ''}`, `${file}: ${(err as Error).message}`);
  }
  state.acceptNext = systemId === undefined ? {} : { systemId };
  writeSourceState(file, state);
  const was = state.accepted ? `was ${formatSourceIdentity(state.accepted)}` : 'no source accepted yet';
  out(`job '${job}': the next run accepts ${systemId === undefined ? 'whatever source it announces' : `the source with system id ${systemId}`} (${was}); recorded in ${file}\n`);
  return 0;
}
