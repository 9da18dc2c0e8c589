// Between a session and its socket: seal what goes out and open what comes in when a key is
// set (protocol/envelope.ts); pass packets through unchanged when not. Packets that fail
// are counted by reason and never reach the session.
import { Opener, Sealer } from '../protocol';

export interface Wire {
  readonly keyed: boolean;
  out(packet: Buffer): Buffer;
  /** The inner packet, or null (counted in `dropped`). */
  in(datagram: Buffer): Buffer | null;
  readonly dropped: Record<string, number>;
}

export function wire(key: Buffer | null, partyId: number): Wire {
  const dropped: Record<string, number> = {};
  if (!key) return { keyed: false, out: (p) => p, in: (d) => d, dropped };
  const sealer = new Sealer(key, partyId);
  const opener = new Opener(key);
  return {
    keyed: true,
    out: (p) => sealer.seal(p),
    in: (d) => {
      const r = opener.open(d);
      if (r.ok) return r.packet;
      dropped[r.reason] = (dropped[r.reason] ?? 0) + 1;
      return null;
    },
    dropped,
  };
}
