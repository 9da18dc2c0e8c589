// Between a session and its socket: seal what goes out and open what comes in when a key is
// set (protocol/envelope.ts); pass packets through unchanged when not. Packets that fail
// are counted by reason and never reach the session.
import { randomBytes } from 'crypto';
import { Opener, Sealer, randomCounterStart } from '../protocol';
import { nowMs } from './clock';

export interface Wire {
  readonly keyed: boolean;
  out(packet: Buffer): Buffer;
  /** The inner packet, or null (counted in `dropped`). */
  in(datagram: Buffer): Buffer | null;
  readonly dropped: Record<string, number>;
  /** The session is known: envelopes of any other are dropped before a key is derived. */
  lock(sessionId: string): void;
}

/** partyId 0 is the sender (its counter starts at 1, its session is known from the start). */
export function wire(key: Buffer | null, partyId: number, sessionId?: string): Wire {
  const dropped: Record<string, number> = {};
  if (!key) return { keyed: false, out: (p) => p, in: (d) => d, dropped, lock: () => undefined };
  const r = randomBytes(8);
  const sealer = new Sealer(key, partyId, partyId === 0 ? 0 : randomCounterStart(r.readUInt32BE(0), r.readUInt32BE(4)));
  const opener = new Opener(key);
  if (sessionId) opener.expectSession(sessionId);
  return {
    keyed: true,
    lock: (sid) => opener.expectSession(sid),
    out: (p) => sealer.seal(p),
    in: (d) => {
      const r = opener.open(d, nowMs());
      if (r.ok) return r.packet;
      dropped[r.reason] = (dropped[r.reason] ?? 0) + 1;
      return null;
    },
    dropped,
  };
}
