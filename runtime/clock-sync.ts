// Is this host's clock synchronised? Scheduled runs on several hosts rely on it. Asks
// whichever of systemd-timesyncd, timedatectl or chrony is there; "unknown" when none is.
import { spawnSync } from 'child_process';
import * as fs from 'fs';

export interface ClockSync { state: 'synchronized' | 'not-synchronized' | 'unknown'; source: string }

export function checkClockSync(): ClockSync {
  if (fs.existsSync('/run/systemd/timesync/synchronized')) return { state: 'synchronized', source: 'systemd-timesyncd' };
  const td = spawnSync('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { encoding: 'utf8', timeout: 3000 });
  if (td.status === 0 && /^(yes|no)$/m.test(td.stdout)) {
    return { state: td.stdout.trim() === 'yes' ? 'synchronized' : 'not-synchronized', source: 'timedatectl' };
  }
  const ch = spawnSync('chronyc', ['tracking'], { encoding: 'utf8', timeout: 3000 });
  if (ch.status === 0) {
    const leap = /Leap status\s*:\s*(.+)/.exec(ch.stdout)?.[1]?.trim() ?? '';
    return { state: leap === 'Normal' ? 'synchronized' : 'not-synchronized', source: `chronyc (leap status ${leap || 'unknown'})` };
  }
  return { state: 'unknown', source: 'no timesyncd, timedatectl or chronyc answered' };
}
