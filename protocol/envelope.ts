// Keyed mode (--key-file): every packet of every type travels inside an AES-256-GCM envelope.
//
//   'D' 'E' ver | session id (8) | party id (4) | counter (8) | ciphertext of the packet | tag (16)
//   \_______________ authenticated, in clear (23 bytes) ______/
//
// The session key is HKDF-SHA256(pre-shared key, salt = session id), so packets of another
// session or another run never authenticate. The nonce is party id + counter: the sender is
// party 0, each receiver its own (non-zero) id, and each party counts up from 1, so a nonce is
// never used twice under one key. A replay window per party drops repeats. Pure: no I/O;
// crypto and the counters are all in memory.
import { createCipheriv, createDecipheriv, hkdfSync } from 'crypto';

const MAGIC0 = 0x44; // 'D'
const MAGIC1 = 0x45; // 'E'
const VERSION = 1;
const SID_AT = 3;
const PARTY_AT = 11;
const COUNTER_AT = 15;
export const ENVELOPE_CLEAR_BYTES = 23;
const TAG_BYTES = 16;
export const ENVELOPE_OVERHEAD_BYTES = ENVELOPE_CLEAR_BYTES + TAG_BYTES;
export const KEY_BYTES = 32;
/** Inner packets carry the session id at bytes 4..12 (codec header). */
const INNER_SID_AT = 4;
/** Limits: keys of this many sessions, replay windows of this many parties. */
const MAX_SESSION_KEYS = 16;
const MAX_PARTIES = 1024;
/** Counters this far behind the newest of a party are too old to tell from a replay. */
export const REPLAY_WINDOW = 4096;
const MAX_COUNTER = 2 ** 53;

export type OpenResult = { ok: true; packet: Buffer; partyId: number } | { ok: false; reason: EnvelopeError };
export type EnvelopeError = 'env-too-short' | 'env-bad-magic' | 'env-bad-version' | 'env-auth-failed' | 'env-replayed' | 'env-too-old' | 'env-too-many-parties';

class SessionKeys {
  private readonly keys = new Map<string, Buffer>();
  constructor(private readonly psk: Buffer) {
    if (psk.length !== KEY_BYTES) throw new RangeError(`the key must be ${KEY_BYTES} bytes`);
  }
  get(sid: Buffer): Buffer {
    const k = sid.toString('latin1');
    let key = this.keys.get(k);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.psk, sid, 'dbcast v1 session key', KEY_BYTES));
      if (this.keys.size >= MAX_SESSION_KEYS) this.keys.delete(this.keys.keys().next().value as string);
      this.keys.set(k, key);
    }
    return key;
  }
}

export class Sealer {
  private counter = 0;
  private readonly keys: SessionKeys;

  /** partyId: 0 for the sender, the receiver id (non-zero) for a receiver. */
  constructor(psk: Buffer, private readonly partyId: number) { this.keys = new SessionKeys(psk); }

  seal(packet: Buffer): Buffer {
    if (++this.counter >= MAX_COUNTER) throw new RangeError('envelope counter exhausted');
    const out = Buffer.allocUnsafe(ENVELOPE_OVERHEAD_BYTES + packet.length);
    out[0] = MAGIC0; out[1] = MAGIC1; out[2] = VERSION;
    packet.copy(out, SID_AT, INNER_SID_AT, INNER_SID_AT + 8);
    out.writeUInt32BE(this.partyId, PARTY_AT);
    out.writeUIntBE(Math.floor(this.counter / 2 ** 32), COUNTER_AT, 4);
    out.writeUInt32BE(this.counter >>> 0, COUNTER_AT + 4);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(out.subarray(SID_AT, SID_AT + 8)), out.subarray(PARTY_AT, ENVELOPE_CLEAR_BYTES));
    cipher.setAAD(out.subarray(0, ENVELOPE_CLEAR_BYTES));
    const n = cipher.update(packet).copy(out, ENVELOPE_CLEAR_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(out, ENVELOPE_CLEAR_BYTES + n);
    return out;
  }
}

/** Sliding replay window for one party (RFC 4303 style, counters may arrive out of order). */
class ReplayWindow {
  private top = 0;
  private readonly seen = new Uint8Array(REPLAY_WINDOW);

  check(counter: number): 'ok' | 'env-replayed' | 'env-too-old' {
    if (counter > this.top) return 'ok';
    if (this.top - counter >= REPLAY_WINDOW) return 'env-too-old';
    return this.seen[counter % REPLAY_WINDOW] ? 'env-replayed' : 'ok';
  }

  /** Only after authentication: a forged counter must not move the window. */
  mark(counter: number): void {
    if (counter > this.top) {
      for (let c = Math.max(this.top + 1, counter - REPLAY_WINDOW + 1); c < counter; c++) this.seen[c % REPLAY_WINDOW] = 0;
      this.top = counter;
    }
    this.seen[counter % REPLAY_WINDOW] = 1;
  }
}

export class Opener {
  private readonly keys: SessionKeys;
  private readonly windows = new Map<string, ReplayWindow>();

  constructor(psk: Buffer) { this.keys = new SessionKeys(psk); }

  open(buf: Buffer): OpenResult {
    if (buf.length < ENVELOPE_OVERHEAD_BYTES + 1) return { ok: false, reason: 'env-too-short' };
    if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return { ok: false, reason: 'env-bad-magic' };
    if (buf[2] !== VERSION) return { ok: false, reason: 'env-bad-version' };
    const partyId = buf.readUInt32BE(PARTY_AT);
    const counter = buf.readUInt32BE(COUNTER_AT) * 2 ** 32 + buf.readUInt32BE(COUNTER_AT + 4);
    const windowKey = `${buf.toString('hex', SID_AT, SID_AT + 8)}/${partyId}`;
    const window = this.windows.get(windowKey);
    const early = window?.check(counter);
    if (early && early !== 'ok') return { ok: false, reason: early };
    const end = buf.length - TAG_BYTES;
    let packet: Buffer;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.keys.get(buf.subarray(SID_AT, SID_AT + 8)), buf.subarray(PARTY_AT, ENVELOPE_CLEAR_BYTES));
      decipher.setAAD(buf.subarray(0, ENVELOPE_CLEAR_BYTES));
      decipher.setAuthTag(buf.subarray(end));
      packet = Buffer.concat([decipher.update(buf.subarray(ENVELOPE_CLEAR_BYTES, end)), decipher.final()]);
    } catch {
      return { ok: false, reason: 'env-auth-failed' };
    }
    // The inner packet must belong to the session the envelope names.
    if (packet.length < INNER_SID_AT + 8 || !packet.subarray(INNER_SID_AT, INNER_SID_AT + 8).equals(buf.subarray(SID_AT, SID_AT + 8))) {
      return { ok: false, reason: 'env-auth-failed' };
    }
    let w = window;
    if (!w) {
      if (this.windows.size >= MAX_PARTIES) return { ok: false, reason: 'env-too-many-parties' };
      w = new ReplayWindow();
      this.windows.set(windowKey, w);
    }
    w.mark(counter);
    return { ok: true, packet, partyId };
  }
}
