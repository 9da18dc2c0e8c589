// Flag values → validated options. Every failure names the flag and the expected form.
import * as os from 'os';
import {
  DEFAULT_PAYLOAD_BYTES, MAX_JOB_BYTES, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES,
} from '../protocol';
import { resolveInterface } from './net';
import { UsageError } from './usage-error';

type Raw = Record<string, unknown>;

function num(raw: Raw, key: string, def: number, min: number, max: number, integer: boolean): number {
  const v = raw[key];
  if (v === undefined) return def;
  const form = `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`;
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(key, form, v);
  const s = String(v).trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new UsageError(key, form, v);
  const n = Number(s);
  if ((integer && !Number.isInteger(n)) || n < min || n > max) throw new UsageError(key, form, v);
  return n;
}

function text(raw: Raw, key: string, def: string | undefined, maxBytes: number): string | undefined {
  const v = raw[key];
  if (v === undefined) return def;
  if (Array.isArray(v)) throw new UsageError(key, 'a single value (the flag was given more than once)', v);
  const s = String(v);
  if (s === '' || Buffer.byteLength(s) > maxBytes) throw new UsageError(key, `a non-empty text of at most ${maxBytes} bytes`, v);
  return s;
}

function multicastGroup(raw: Raw): string {
  const v = String(raw.group ?? '239.255.42.1');
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
  if (!m || m.slice(1).some((x) => Number(x) > 255) || Number(m[1]) < 224 || Number(m[1]) > 239) {
    throw new UsageError('group', 'an IPv4 multicast address (224.0.0.0 to 239.255.255.255), e.g. 239.1.2.3', raw.group);
  }
  return v;
}

export interface CommonOptions {
  group: string;
  port: number;
  interfaceAddress: string | undefined;
  job: string;
  idleTimeoutMs: number;
  logLevel: string;
}

export interface SendOptions extends CommonOptions {
  command: string | undefined;
  ttl: number;
  minReceivers: number;
  maxWaitMinReceivers: number;
  minWaitMs: number;
  maxWaitMs: number;
  maxRateBitsPerSec: number;
  payloadBytes: number;
  windowBytes: number;
  dropAfterMs: number;
  reportFile: string | undefined;
}

export interface ReceiveOptions extends CommonOptions {
  name: string;
  outputFile: string | undefined;
  pipeCommand: string | undefined;
  stdout: boolean;
  startTimeoutMs: number;
  maxWindowBytes: number;
}

const MIB = 1024 * 1024;
const DAY_SEC = 86_400;

function common(raw: Raw): CommonOptions {
  const level = String(raw['log-level'] ?? 'info');
  if (!['error', 'warn', 'info', 'verbose', 'debug'].includes(level)) {
    throw new UsageError('log-level', 'one of error, warn, info, verbose, debug', raw['log-level']);
  }
  return {
    group: multicastGroup(raw),
    port: num(raw, 'port', 9000, 1, 65535, true),
    interfaceAddress: resolveInterface(text(raw, 'interface', undefined, 64)),
    job: text(raw, 'job', 'default', MAX_JOB_BYTES) as string,
    idleTimeoutMs: num(raw, 'idle-timeout-sec', 15, 1, DAY_SEC, false) * 1000,
    logLevel: level,
  };
}

export function parseSendOptions(raw: Raw): SendOptions {
  const minReceivers = num(raw, 'min-receivers', 1, 1, 256, true);
  const windowBytes = num(raw, 'window-mib', 64, 1, 1024, false) * MIB;
  const payloadBytes = num(raw, 'payload-bytes', DEFAULT_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES, true);
  if (payloadBytes * 4 > windowBytes) throw new UsageError('window-mib', `at least 4 packets (${payloadBytes * 4} bytes)`, raw['window-mib']);
  return {
    ...common(raw),
    command: text(raw, 'command', undefined, 64 * 1024),
    ttl: num(raw, 'ttl', 1, 0, 255, true),
    minReceivers,
    maxWaitMinReceivers: num(raw, 'max-wait-min-receivers', minReceivers, 1, 256, true),
    minWaitMs: num(raw, 'min-wait-sec', 0, 0, DAY_SEC, false) * 1000,
    maxWaitMs: num(raw, 'max-wait-sec', 0, 0, DAY_SEC, false) * 1000,
    maxRateBitsPerSec: num(raw, 'max-rate-mbps', 1000, 0.1, 100_000, false) * 1e6,
    payloadBytes,
    windowBytes: Math.round(windowBytes),
    dropAfterMs: num(raw, 'drop-after-sec', 0, 0, DAY_SEC, false) * 1000,
    reportFile: text(raw, 'report', undefined, 4096),
  };
}

export function parseReceiveOptions(raw: Raw): ReceiveOptions {
  const outputFile = text(raw, 'output', undefined, 4096);
  const pipeCommand = text(raw, 'pipe', undefined, 64 * 1024);
  return {
    ...common(raw),
    name: text(raw, 'name', os.hostname().slice(0, MAX_NAME_BYTES), MAX_NAME_BYTES) as string,
    outputFile,
    pipeCommand,
    // stdout is the sink unless another was chosen; --stdout adds it explicitly.
    stdout: raw.stdout === true || (outputFile === undefined && pipeCommand === undefined),
    startTimeoutMs: num(raw, 'start-timeout-sec', 0, 0, DAY_SEC, false) * 1000,
    maxWindowBytes: Math.round(num(raw, 'max-window-mib', 1024, 1, 4095, false) * MIB),
  };
}
