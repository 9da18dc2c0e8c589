// What a sender says about its stream in ANNOUNCE's info text (protocol/codec.ts carries it
// opaque): JSON with optional fields, read before a receiver joins. Unknown fields are kept
// out; a malformed info is a reason, never a throw (it came from the network).
import { MAX_ANNOUNCE_INFO_BYTES } from '../protocol';

export const COMPRESSIONS = ['zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export interface StreamInfo {
  /** The bytes on the wire are this compression of the dump; absent = the dump itself. */
  compression?: Compression;
  /** The source's identity (sender/source presets); validated by the receiver's guard. */
  source?: Record<string, unknown>;
}

export function encodeStreamInfo(info: StreamInfo): string {
  if (info.compression === undefined && info.source === undefined) return '';
  const text = JSON.stringify(info);
  if (Buffer.byteLength(text) > MAX_ANNOUNCE_INFO_BYTES) throw new RangeError(`stream info longer than ${MAX_ANNOUNCE_INFO_BYTES} bytes`);
  return text;
}

export type StreamInfoResult = { ok: true; info: StreamInfo } | { ok: false; reason: string };

export function decodeStreamInfo(text: string): StreamInfoResult {
  if (text === '') return { ok: true, info: {} };
  let v: unknown;
  try { v = JSON.parse(text); } catch { return { ok: false, reason: 'stream info is not JSON' }; }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, reason: 'stream info is not an object' };
  const o = v as Record<string, unknown>;
  const info: StreamInfo = {};
  if (o.compression !== undefined) {
    if (!(COMPRESSIONS as readonly unknown[]).includes(o.compression)) return { ok: false, reason: `unknown compression ${JSON.stringify(o.compression).slice(0, 40)}` };
    info.compression = o.compression as Compression;
  }
  if (o.source !== undefined) {
    if (typeof o.source !== 'object' || o.source === null || Array.isArray(o.source)) return { ok: false, reason: 'stream info: source is not an object' };
    info.source = o.source as Record<string, unknown>;
  }
  return { ok: true, info };
}
