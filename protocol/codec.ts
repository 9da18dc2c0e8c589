// Packet encode/decode. Decoding network bytes never throws: it returns a reason.
import {
  ABORT_REASON_NAMES, AbortReason, DONE_STATUS_NAMES, DROP_REASON_NAMES, DoneStatus, DropReason, RESTORE_OUTCOME_NAMES, RestoreOutcome,
  HEADER_BYTES, MAGIC0, MAGIC1, MAX_ABORT_MESSAGE_BYTES, MAX_DATAGRAM_BYTES, MAX_DETAIL_BYTES,
  MAX_ANNOUNCE_INFO_BYTES, MAX_JOB_BYTES, MAX_NAK_RANGES, MAX_NAME_BYTES, MAX_OFFSET, PROTOCOL_VERSION, PacketType,
  SHA256_BYTES, TRAILER_BYTES, CHALLENGE_BYTES, COOKIE_BYTES, MIN_JOIN_DATAGRAM_BYTES, WelcomeVerdict,
} from './constants';
import { crc32 } from './crc';

/** Half-open byte range [start, end). */
export interface ByteRange { start: number; end: number }

export interface AnnouncePacket {
  type: PacketType.Announce; sessionId: string;
  senderTimeMs: number; windowBytes: number; payloadBytes: number; job: string;
  /** What the stream is (compression, the source's identity), as text the app layer reads;
   *  '' = nothing said. Sealed with the rest of the packet in keyed mode. */
  info: string;
}
export interface JoinPacket {
  type: PacketType.Join; sessionId: string;
  /** Fresh per receiver and session; a WELCOME that does not echo it is not for us. */
  challenge: Buffer;
  /** All zero until a WELCOME (Validate) gave one. */
  cookie: Buffer;
  receiverTimeMs: number; echoSenderTimeMs: number; name: string;
}
export interface WelcomePacket {
  type: PacketType.Welcome; sessionId: string;
  challenge: Buffer; cookie: Buffer;
  /** Assigned by the sender when admitted; 0 otherwise. */
  receiverId: number;
  verdict: WelcomeVerdict;
  /** With Refused: why (a DropReason); else 0. */
  refusal: number;
  echoReceiverTimeMs: number; senderTimeMs: number;
}
export interface DataPacket {
  type: PacketType.Data; sessionId: string; offset: number; payload: Buffer;
}
export interface HeartbeatPacket {
  type: PacketType.Heartbeat; sessionId: string;
  sentEndOffset: number; senderTimeMs: number; job: string;
}
export interface StatusPacket {
  type: PacketType.Status; sessionId: string;
  receiverId: number; cookie: Buffer; deliveredOffset: number; contiguousOffset: number;
  /** End of the highest packet received: what left the receiver's socket buffer. */
  receivedEndOffset: number;
  /** Bytes the sender may have in flight beyond receivedEndOffset without overflowing that buffer. */
  flowWindowBytes: number;
  echoSenderTimeMs: number; holdMs: number; naks: ByteRange[];
}
export interface EndPacket {
  type: PacketType.End; sessionId: string;
  totalBytes: number; sha256: Buffer; senderTimeMs: number;
}
export interface DonePacket {
  type: PacketType.Done; sessionId: string;
  receiverId: number; cookie: Buffer; status: DoneStatus; restoreOutcome: RestoreOutcome; bytes: number; sinkExitCode: number;
  repairsRequested: number; detail: string;
}
export interface DoneAckPacket { type: PacketType.DoneAck; sessionId: string; receiverId: number }
export interface AbortPacket {
  type: PacketType.Abort; sessionId: string; reason: AbortReason; message: string;
}
export interface DropPacket {
  type: PacketType.Drop; sessionId: string; receiverId: number; reason: DropReason;
}

export type Packet =
  | AnnouncePacket | JoinPacket | WelcomePacket | DataPacket | HeartbeatPacket | StatusPacket
  | EndPacket | DonePacket | DoneAckPacket | AbortPacket | DropPacket;

export type DecodeError =
  | 'too-short' | 'too-long' | 'bad-magic' | 'bad-version' | 'bad-crc' | 'unknown-type'
  | 'bad-length' | 'bad-field' | 'offset-too-large' | 'too-many-ranges' | 'bad-range'
  | 'bad-text';

export type DecodeResult = { ok: true; packet: Packet } | { ok: false; reason: DecodeError };

export const SESSION_ID_HEX_CHARS = 16;

// ---------------------------------------------------------------- encoding

let lastEncodedId = '';
const lastEncodedIdBytes = Buffer.alloc(8);

class Writer {
  readonly buf: Buffer;
  pos = HEADER_BYTES;
  constructor(type: PacketType, sessionId: string, bodyBytes: number, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe) {
    this.buf = alloc(HEADER_BYTES + bodyBytes + TRAILER_BYTES);
    this.buf[0] = MAGIC0; this.buf[1] = MAGIC1; this.buf[2] = PROTOCOL_VERSION; this.buf[3] = type;
    // The sender writes its own id into every packet: its bytes are kept, not re-parsed from hex.
    if (sessionId === lastEncodedId) lastEncodedIdBytes.copy(this.buf, 4);
    else if (this.buf.write(sessionId, 4, 8, 'hex') !== 8) throw new RangeError('session id must be 16 hex digits');
    else { this.buf.copy(lastEncodedIdBytes, 0, 4, 12); lastEncodedId = sessionId; }
  }
  u8(v: number): void { this.buf.writeUInt8(v, this.pos); this.pos += 1; }
  u16(v: number): void { this.buf.writeUInt16BE(v, this.pos); this.pos += 2; }
  u32(v: number): void { this.buf.writeUInt32BE(v, this.pos); this.pos += 4; }
  i32(v: number): void { this.buf.writeInt32BE(v, this.pos); this.pos += 4; }
  u64(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 field out of range: ${v}`);
    this.buf.writeUInt32BE(Math.floor(v / 0x100000000), this.pos);
    this.buf.writeUInt32BE(v >>> 0, this.pos + 4);
    this.pos += 8;
  }
  /** Millisecond timestamps travel as whole, non-negative numbers. */
  time(v: number): void { this.u64(Math.max(0, Math.floor(v))); }
  // Buffer#copy, not TypedArray#set: set into fresh slab memory ran at a fifth of copy's speed
  // (the sender's payload copy was its costliest line).
  bytes(b: Uint8Array): void { this.pos += Buffer.isBuffer(b) ? b.copy(this.buf, this.pos) : (this.buf.set(b, this.pos), b.length); }
  finish(): Buffer {
    if (this.pos !== this.buf.length - TRAILER_BYTES) throw new Error('encoder size mismatch');
    this.buf.writeUInt32BE(crc32(this.buf.subarray(0, this.pos)), this.pos);
    return this.buf;
  }
}

function fixed(b: Buffer, n: number, what: string): Buffer {
  if (b.length !== n) throw new RangeError(`${what} must be ${n} bytes`);
  return b;
}

function textBytes(s: string, max: number, what: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > max) throw new RangeError(`${what} longer than ${max} bytes`);
  return b;
}

export function encodePacket(p: Packet): Buffer {
  switch (p.type) {
    case PacketType.Announce: {
      const job = textBytes(p.job, MAX_JOB_BYTES, 'job');
      const info = textBytes(p.info, MAX_ANNOUNCE_INFO_BYTES, 'announce info');
      const w = new Writer(p.type, p.sessionId, 8 + 4 + 4 + 1 + job.length + 2 + info.length);
      w.time(p.senderTimeMs); w.u32(p.windowBytes); w.u32(p.payloadBytes); w.u8(job.length); w.bytes(job);
      w.u16(info.length); w.bytes(info);
      return w.finish();
    }
    case PacketType.Join: {
      const name = textBytes(p.name, MAX_NAME_BYTES, 'name');
      const body = CHALLENGE_BYTES + COOKIE_BYTES + 8 + 8 + 1 + name.length;
      const pad = Math.max(0, MIN_JOIN_DATAGRAM_BYTES - (HEADER_BYTES + body + TRAILER_BYTES));
      const w = new Writer(p.type, p.sessionId, body + pad, Buffer.alloc); // zeroed: the padding
      w.bytes(fixed(p.challenge, CHALLENGE_BYTES, 'challenge')); w.bytes(fixed(p.cookie, COOKIE_BYTES, 'cookie'));
      w.time(p.receiverTimeMs); w.time(p.echoSenderTimeMs); w.u8(name.length); w.bytes(name);
      w.pos += pad;
      return w.finish();
    }
    case PacketType.Welcome: {
      const w = new Writer(p.type, p.sessionId, CHALLENGE_BYTES + COOKIE_BYTES + 4 + 1 + 1 + 8 + 8);
      w.bytes(fixed(p.challenge, CHALLENGE_BYTES, 'challenge')); w.bytes(fixed(p.cookie, COOKIE_BYTES, 'cookie'));
      w.u32(p.receiverId); w.u8(p.verdict); w.u8(p.refusal); w.time(p.echoReceiverTimeMs); w.time(p.senderTimeMs);
      return w.finish();
    }
    case PacketType.Data: {
      const w = new Writer(p.type, p.sessionId, 8 + p.payload.length);
      w.u64(p.offset); w.bytes(p.payload);
      return w.finish();
    }
    case PacketType.Heartbeat: {
      const job = textBytes(p.job, MAX_JOB_BYTES, 'job');
      const w = new Writer(p.type, p.sessionId, 8 + 8 + 1 + job.length);
      w.u64(p.sentEndOffset); w.time(p.senderTimeMs); w.u8(job.length); w.bytes(job);
      return w.finish();
    }
    case PacketType.Status: {
      if (p.naks.length > MAX_NAK_RANGES) throw new RangeError('too many NAK ranges');
      const w = new Writer(p.type, p.sessionId, 4 + COOKIE_BYTES + 8 + 8 + 8 + 4 + 8 + 4 + 2 + 16 * p.naks.length);
      w.u32(p.receiverId); w.bytes(fixed(p.cookie, COOKIE_BYTES, 'cookie')); w.u64(p.deliveredOffset); w.u64(p.contiguousOffset); w.u64(p.receivedEndOffset);
      w.u32(p.flowWindowBytes); w.time(p.echoSenderTimeMs); w.u32(p.holdMs); w.u16(p.naks.length);
      for (const r of p.naks) { w.u64(r.start); w.u64(r.end); }
      return w.finish();
    }
    case PacketType.End: {
      if (p.sha256.length !== SHA256_BYTES) throw new RangeError('sha256 must be 32 bytes');
      const w = new Writer(p.type, p.sessionId, 8 + SHA256_BYTES + 8);
      w.u64(p.totalBytes); w.bytes(p.sha256); w.time(p.senderTimeMs);
      return w.finish();
    }
    case PacketType.Done: {
      const detail = textBytes(p.detail, MAX_DETAIL_BYTES, 'detail');
      const w = new Writer(p.type, p.sessionId, 4 + COOKIE_BYTES + 1 + 1 + 8 + 4 + 4 + 1 + detail.length);
      w.u32(p.receiverId); w.bytes(fixed(p.cookie, COOKIE_BYTES, 'cookie')); w.u8(p.status); w.u8(p.restoreOutcome); w.u64(p.bytes); w.i32(p.sinkExitCode);
      w.u32(p.repairsRequested); w.u8(detail.length); w.bytes(detail);
      return w.finish();
    }
    case PacketType.DoneAck: {
      const w = new Writer(p.type, p.sessionId, 4);
      w.u32(p.receiverId);
      return w.finish();
    }
    case PacketType.Abort: {
      const msg = textBytes(p.message, MAX_ABORT_MESSAGE_BYTES, 'abort message');
      const w = new Writer(p.type, p.sessionId, 1 + 2 + msg.length);
      w.u8(p.reason); w.u16(msg.length); w.bytes(msg);
      return w.finish();
    }
    case PacketType.Drop: {
      const w = new Writer(p.type, p.sessionId, 4 + 1);
      w.u32(p.receiverId); w.u8(p.reason);
      return w.finish();
    }
  }
}

/**
 * DATA packet built straight from input chunks (one copy: the sender's hot path). `alloc` lets the
 * sender carve packets out of slabs (see PacketSlab).
 */
export function encodeDataPacket(sessionId: string, offset: number, parts: readonly Buffer[], length: number, alloc?: (bytes: number) => Buffer): Buffer {
  const w = new Writer(PacketType.Data, sessionId, 8 + length, alloc);
  w.u64(offset);
  for (const part of parts) w.bytes(part);
  return w.finish();
}

/** A DATA packet whose payload is src[start, end): a packet within one input chunk, copied
 *  without a view of it being made. */
export function encodeDataPacketRange(sessionId: string, offset: number, src: Buffer, start: number, end: number, alloc?: (bytes: number) => Buffer): Buffer {
  const w = new Writer(PacketType.Data, sessionId, 8 + end - start, alloc);
  w.u64(offset);
  w.pos += src.copy(w.buf, w.pos, start, end);
  return w.finish();
}

/** Cut a string so that its UTF-8 form fits `maxBytes` (for text built from local output). */
export function clipUtf8(s: string, maxBytes: number): string {
  let b = Buffer.from(s, 'utf8');
  if (b.length <= maxBytes) return s;
  b = b.subarray(0, maxBytes);
  return new TextDecoder('utf-8', { fatal: false }).decode(b).replace(/\uFFFD$/, '');
}

// ---------------------------------------------------------------- decoding

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

class Reader {
  pos = HEADER_BYTES;
  constructor(readonly buf: Buffer, readonly end: number) {}
  left(): number { return this.end - this.pos; }
  u8(): number { const v = this.buf[this.pos]; this.pos += 1; return v; }
  u16(): number { const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  u32(): number { const v = this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  i32(): number { const v = this.buf.readInt32BE(this.pos); this.pos += 4; return v; }
  /** NaN when the value does not fit a safe integer. */
  u64(): number {
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    const v = hi * 0x100000000 + lo;
    return v <= MAX_OFFSET ? v : NaN;
  }
  bytes(n: number): Buffer { const b = this.buf.subarray(this.pos, this.pos + n); this.pos += n; return b; }
  /** null when the text is not valid UTF-8. */
  text(n: number): string | null {
    try { return strictUtf8.decode(this.bytes(n)); } catch { return null; }
  }
  /** Names and job names reach logs, metrics and terminals: printable only (no C0/C1 controls, no DEL). */
  label(n: number): string | null {
    const t = this.text(n);
    return t === null || CONTROL_CHARS.test(t) ? null : t;
  }
  /** A copy: packets outlive the datagram buffer. */
  copy(n: number): Buffer { return Buffer.from(this.bytes(n)); }
}

const fail = (reason: DecodeError): DecodeResult => ({ ok: false, reason });

/** Fixed body sizes (without variable parts) per type. */
const MIN_BODY: Record<PacketType, number> = {
  [PacketType.Announce]: 19, [PacketType.Join]: 49, [PacketType.Welcome]: 54, [PacketType.Data]: 9,
  [PacketType.Heartbeat]: 17, [PacketType.Status]: 62, [PacketType.End]: 48, [PacketType.Done]: 39,
  [PacketType.DoneAck]: 4, [PacketType.Abort]: 3, [PacketType.Drop]: 5,
};

export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < HEADER_BYTES + TRAILER_BYTES) return fail('too-short');
  if (buf.length > MAX_DATAGRAM_BYTES) return fail('too-long');
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return fail('bad-magic');
  if (buf[2] !== PROTOCOL_VERSION) return fail('bad-version');
  const end = buf.length - TRAILER_BYTES;
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32BE(end)) return fail('bad-crc');
  const type = buf[3] as PacketType;
  if (!(type in MIN_BODY)) return fail('unknown-type');
  if (end - HEADER_BYTES < MIN_BODY[type]) return fail('bad-length');
  const sessionId = buf.toString('hex', 4, 12);
  const r = new Reader(buf, end);
  const packet = decodeBody(type, sessionId, r);
  if (typeof packet === 'string') return fail(packet);
  if (r.pos !== end) return fail('bad-length');
  return { ok: true, packet };
}

function decodeBody(type: PacketType, sessionId: string, r: Reader): Packet | DecodeError {
  switch (type) {
    case PacketType.Announce: {
      const senderTimeMs = r.u64(); const windowBytes = r.u32(); const payloadBytes = r.u32();
      const jobLen = r.u8();
      if (Number.isNaN(senderTimeMs)) return 'offset-too-large';
      if (jobLen > MAX_JOB_BYTES || r.left() < jobLen + 2) return 'bad-length';
      if (windowBytes === 0 || payloadBytes === 0 || payloadBytes > windowBytes) return 'bad-field';
      const job = r.label(jobLen); if (job === null) return 'bad-text';
      const infoLen = r.u16();
      if (infoLen > MAX_ANNOUNCE_INFO_BYTES || r.left() !== infoLen) return 'bad-length';
      const info = r.label(infoLen); if (info === null) return 'bad-text';
      return { type, sessionId, senderTimeMs, windowBytes, payloadBytes, job, info };
    }
    case PacketType.Join: {
      if (r.end + TRAILER_BYTES < MIN_JOIN_DATAGRAM_BYTES) return 'bad-length'; // unpadded: would be answered with more than it cost
      const challenge = r.copy(CHALLENGE_BYTES); const cookie = r.copy(COOKIE_BYTES);
      const receiverTimeMs = r.u64(); const echoSenderTimeMs = r.u64();
      const nameLen = r.u8();
      if (Number.isNaN(receiverTimeMs) || Number.isNaN(echoSenderTimeMs)) return 'offset-too-large';
      if (nameLen > MAX_NAME_BYTES || r.left() < nameLen) return 'bad-length';
      const name = r.label(nameLen); if (name === null || name === '') return 'bad-text';
      const pad = r.bytes(r.left());
      if (pad.some((b) => b !== 0)) return 'bad-field';
      return { type, sessionId, challenge, cookie, receiverTimeMs, echoSenderTimeMs, name };
    }
    case PacketType.Welcome: {
      const challenge = r.copy(CHALLENGE_BYTES); const cookie = r.copy(COOKIE_BYTES);
      const receiverId = r.u32(); const verdict = r.u8(); const refusal = r.u8();
      const echoReceiverTimeMs = r.u64(); const senderTimeMs = r.u64();
      if (Number.isNaN(echoReceiverTimeMs) || Number.isNaN(senderTimeMs)) return 'offset-too-large';
      if (!(verdict in WelcomeVerdict) || (verdict === WelcomeVerdict.Admitted) !== (receiverId !== 0)) return 'bad-field';
      if ((verdict === WelcomeVerdict.Refused) !== (refusal !== 0) || (refusal !== 0 && !(refusal in DROP_REASON_NAMES))) return 'bad-field';
      return { type, sessionId, challenge, cookie, receiverId, verdict, refusal, echoReceiverTimeMs, senderTimeMs };
    }
    case PacketType.Data: {
      const offset = r.u64();
      if (Number.isNaN(offset)) return 'offset-too-large';
      const payload = r.bytes(r.left());
      if (offset + payload.length > Number.MAX_SAFE_INTEGER) return 'offset-too-large';
      return { type, sessionId, offset, payload };
    }
    case PacketType.Heartbeat: {
      const sentEndOffset = r.u64(); const senderTimeMs = r.u64(); const jobLen = r.u8();
      if (Number.isNaN(sentEndOffset) || Number.isNaN(senderTimeMs)) return 'offset-too-large';
      if (jobLen > MAX_JOB_BYTES || r.left() !== jobLen) return 'bad-length';
      const job = r.label(jobLen); if (job === null) return 'bad-text';
      return { type, sessionId, sentEndOffset, senderTimeMs, job };
    }
    case PacketType.Status: {
      const receiverId = r.u32(); const cookie = r.copy(COOKIE_BYTES);
      const deliveredOffset = r.u64(); const contiguousOffset = r.u64(); const receivedEndOffset = r.u64();
      const flowWindowBytes = r.u32(); const echoSenderTimeMs = r.u64(); const holdMs = r.u32(); const count = r.u16();
      if ([deliveredOffset, contiguousOffset, receivedEndOffset, echoSenderTimeMs].some(Number.isNaN)) return 'offset-too-large';
      if (deliveredOffset > contiguousOffset || contiguousOffset > receivedEndOffset || flowWindowBytes === 0) return 'bad-field';
      if (count > MAX_NAK_RANGES) return 'too-many-ranges';
      if (r.left() !== count * 16) return 'bad-length';
      const naks: ByteRange[] = [];
      let prevEnd = contiguousOffset;
      for (let i = 0; i < count; i++) {
        const start = r.u64(); const end = r.u64();
        if (Number.isNaN(start) || Number.isNaN(end)) return 'offset-too-large';
        // Ranges are sorted, disjoint, non-empty and above the contiguous point.
        if (start >= end || start < prevEnd) return 'bad-range';
        prevEnd = end;
        naks.push({ start, end });
      }
      return { type, sessionId, receiverId, cookie, deliveredOffset, contiguousOffset, receivedEndOffset, flowWindowBytes, echoSenderTimeMs, holdMs, naks };
    }
    case PacketType.End: {
      const totalBytes = r.u64(); const sha256 = Buffer.from(r.bytes(SHA256_BYTES)); const senderTimeMs = r.u64();
      if (Number.isNaN(totalBytes) || Number.isNaN(senderTimeMs)) return 'offset-too-large';
      return { type, sessionId, totalBytes, sha256, senderTimeMs };
    }
    case PacketType.Done: {
      const receiverId = r.u32(); const cookie = r.copy(COOKIE_BYTES); const status = r.u8(); const restoreOutcome = r.u8(); const bytes = r.u64(); const sinkExitCode = r.i32();
      const repairsRequested = r.u32(); const detailLen = r.u8();
      if (Number.isNaN(bytes)) return 'offset-too-large';
      if (!(status in DONE_STATUS_NAMES) || !(restoreOutcome in RESTORE_OUTCOME_NAMES)) return 'bad-field';
      if (detailLen > MAX_DETAIL_BYTES || r.left() !== detailLen) return 'bad-length';
      const detail = r.text(detailLen); if (detail === null) return 'bad-text';
      return { type, sessionId, receiverId, cookie, status, restoreOutcome, bytes, sinkExitCode, repairsRequested, detail };
    }
    case PacketType.DoneAck:
      return { type, sessionId, receiverId: r.u32() };
    case PacketType.Abort: {
      const reason = r.u8(); const len = r.u16();
      if (!(reason in ABORT_REASON_NAMES)) return 'bad-field';
      if (len > MAX_ABORT_MESSAGE_BYTES || r.left() !== len) return 'bad-length';
      const message = r.text(len); if (message === null) return 'bad-text';
      return { type, sessionId, reason, message };
    }
    case PacketType.Drop: {
      const receiverId = r.u32(); const reason = r.u8();
      if (!(reason in DROP_REASON_NAMES)) return 'bad-field';
      return { type, sessionId, receiverId, reason };
    }
  }
}
