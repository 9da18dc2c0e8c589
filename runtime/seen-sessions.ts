// The sessions a receive job already took, in a file (the daemon keeps one per job in its
// state-dir): a session announced again is a replay of an earlier night and is refused. Bounded:
// only the newest MAX_SEEN_SESSIONS ids are kept.
import * as fs from 'fs';
import { REPORT_FILE_MODE, writeFileAtomic } from './safe-file';

export const MAX_SEEN_SESSIONS = 1000;
const SESSION_ID = /^[0-9a-f]{16}$/;

/** The ids in the file; a missing file is an empty list. Lines that are not ids are skipped. */
export function readSeenSessions(file: string): string[] {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => SESSION_ID.test(l)).slice(-MAX_SEEN_SESSIONS);
}

export function addSeenSession(file: string, sessionId: string): void {
  const ids = readSeenSessions(file).filter((id) => id !== sessionId);
  ids.push(sessionId);
  writeFileAtomic(file, `${ids.slice(-MAX_SEEN_SESSIONS).join('\n')}\n`, REPORT_FILE_MODE);
}
