// Keyed mode (--key-file): every packet of every type travels inside an AES-256-GCM envelope.
//
//   'D' 'E' ver | session id (8) | party id (4) | counter (8) | ciphertext of the packet | tag (16)
//   \_______________ authenticated, in clear (23 bytes) ______/
//
// The session key is HKDF-SHA256(pre-shared key, salt = session id), so packets of another
// session or another run never authenticate. The nonce is party id + counter: the sender is
// party 0 counting up from 1, each receiver its own random non-zero id counting up from a random
// start far above 1 (two receivers that drew the same id would need overlapping counter runs to
// repeat a nonce), so a nonce is never used twice under one key. A replay window per party drops
// repeats. Once a party knows its session (expectSession), envelopes of any other session are
// dropped before any key is derived, and keys for unknown sessions are derived at a bounded
// rate, so garbage costs little. Pure: no I/O; time is passed in.
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
export type EnvelopeError = 'env-too-short' | 'env-bad-magic' | 'env-bad-version' | 'env-auth-failed' | 'env-replayed' | 'env-too-old' | 'env-too-many-parties'
  | 'env-foreign-session' | 'env-rate-limited';
/** Keys derived per second for sessions not seen before (a flood of made-up ids costs this much HKDF at most). */
export const MAX_NEW_SESSION_KEYS_PER_SEC = 32;
/** Where receivers' counters start: a random point in [2^40, 2^52). */
export const randomCounterStart = (random32: number, random20: number): number => 2 ** 40 + (random20 % 2 ** 20) * 2 ** 32 + (random32 >>> 0);

class SessionKeys {
  private readonly keys = new Map<string, Buffer>();
  private windowStartMs = -Infinity;
  private derivedInWindow = 0;
  constructor(private readonly psk: Buffer) {
    if (psk.length !== KEY_BYTES) throw new RangeError(`the key must be ${KEY_BYTES} bytes`);
  }
  /** null: a new key would exceed the derivation rate (only when nowMs is given). */
  get(sid: Buffer, nowMs?: number): Buffer | null {
    const k = sid.toString('latin1');
    let key = this.keys.get(k);
    if (!key) {
      if (nowMs !== undefined) {
        if (nowMs - this.windowStartMs >= 1000) { this.windowStartMs = nowMs; this.derivedInWindow = 0; }
        if (this.derivedInWindow >= MAX_NEW_SESSION_KEYS_PER_SEC) return null;
        this.derivedInWindow++;
      }
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

  /** partyId: 0 for the sender, a random non-zero id for a receiver; counterStart: 0 for the
   *  sender, randomCounterStart(...) for a receiver. */
  constructor(psk: Buffer, private readonly partyId: number, counterStart = 0) {
    this.keys = new SessionKeys(psk);
    this.counter = counterStart;
  }

  seal(packet: Buffer): Buffer {
    if (++this.counter >= MAX_COUNTER) throw new RangeError('envelope counter exhausted');
    const out = Buffer.allocUnsafe(ENVELOPE_OVERHEAD_BYTES + packet.length);
    out[0] = MAGIC0; out[1] = MAGIC1; out[2] = VERSION;
    packet.copy(out, SID_AT, INNER_SID_AT, INNER_SID_AT + 8);
    out.writeUInt32BE(this.partyId, PARTY_AT);
    out.writeUIntBE(Math.floor(this.counter / 2 ** 32), COUNTER_AT, 4);
    out.writeUInt32BE(this.counter >>> 0, COUNTER_AT + 4);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(out.subarray(SID_AT, SID_AT + 8)) as Buffer, out.subarray(PARTY_AT, ENVELOPE_CLEAR_BYTES));
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
  private expected: Buffer | null = null;

  constructor(psk: Buffer) { this.keys = new SessionKeys(psk); }

  /** From now on only this session (16 hex digits) is opened; the other sessions' replay
   *  windows are freed. */
  expectSession(sessionIdHex: string): void {
    this.expected = Buffer.from(sessionIdHex, 'hex');
    for (const k of [...this.windows.keys()]) if (!k.startsWith(`${sessionIdHex}/`)) this.windows.delete(k);
  }

  /** nowMs bounds how fast keys of sessions not seen before are derived. */
  open(buf: Buffer, nowMs?: number): OpenResult {
    if (buf.length < ENVELOPE_OVERHEAD_BYTES + 1) return { ok: false, reason: 'env-too-short' };
    if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return { ok: false, reason: 'env-bad-magic' };
    if (buf[2] !== VERSION) return { ok: false, reason: 'env-bad-version' };
    if (this.expected && !this.expected.equals(buf.subarray(SID_AT, SID_AT + 8))) return { ok: false, reason: 'env-foreign-session' };
    const partyId = buf.readUInt32BE(PARTY_AT);
    const counter = buf.readUInt32BE(COUNTER_AT) * 2 ** 32 + buf.readUInt32BE(COUNTER_AT + 4);
    const windowKey = `${buf.toString('hex', SID_AT, SID_AT + 8)}/${partyId}`;
    const window = this.windows.get(windowKey);
    const early = window?.check(counter);
    if (early && early !== 'ok') return { ok: false, reason: early };
    const end = buf.length - TAG_BYTES;
    let packet: Buffer;
    const key = this.keys.get(buf.subarray(SID_AT, SID_AT + 8), nowMs);
    if (!key) return { ok: false, reason: 'env-rate-limited' };
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(PARTY_AT, ENVELOPE_CLEAR_BYTES));
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
