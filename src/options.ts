// Flag values → validated options. Every failure names the flag and the expected form.
import * as os from 'os';
import {
  DEFAULT_PAYLOAD_BYTES, ENVELOPE_OVERHEAD_BYTES, MAX_JOB_BYTES, MAX_NAME_BYTES, MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES,
} from '../protocol';
import { ARCHIVE_PLACEHOLDERS, DEFAULT_ARCHIVE_TEMPLATE, type ArchiveSpec } from '../receiver/sinks/archive-sink';
import { parseRestoreOptions } from '../receiver/restore/restore-options';
import * as fs from 'fs';
import * as path from 'path';
import { readKeyFile } from '../runtime/key-file';
import { interfaceMtu, interfaceNetworks, outgoingInterface, parseNetwork, resolveInterface, type Network } from '../runtime/net';
import { isPlainFileName } from '../runtime/safe-file';
import { UsageError } from '../runtime/usage-error';
import { bool, num, text, type FlagValues } from '../runtime/flag-values';
import type { CommonOptions } from '../runtime/common-options';
import type { ReceiveOptions } from '../receiver/receive-options';
import type { SendOptions } from '../sender/send-options';
import { parseSourceOptions } from '../sender/source/source-options';
import type { CompressSpec } from '../sender/compress';
import { ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL } from '../runtime/zstd-length';

export type { CommonOptions, ReceiveOptions, SendOptions };

type Raw = FlagValues;

function multicastGroup(raw: Raw): string {
  const v = String(raw.group ?? '239.255.42.1');
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
  if (!m || m.slice(1).some((x) => Number(x) > 255) || Number(m[1]) < 224 || Number(m[1]) > 239) {
    throw new UsageError('group', 'an IPv4 multicast address (224.0.0.0 to 239.255.255.255), e.g. 239.1.2.3', raw.group);
  }
  return v;
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
    key: raw['key-file'] === undefined ? null : readKeyFile(text(raw, 'key-file', undefined, 4096) as string),
  };
}

function receiverNames(raw: Raw): string[] | undefined {
  const v = text(raw, 'receivers', undefined, 64 * 1024);
  if (v === undefined) return undefined;
  const names = v.split(',').map((x) => x.trim());
  if (names.some((x) => x === '' || Buffer.byteLength(x) > MAX_NAME_BYTES) || new Set(names).size !== names.length || names.length > 256) {
    throw new UsageError('receivers', `distinct receiver names separated by commas (each at most ${MAX_NAME_BYTES} bytes, at most 256)`, v);
  }
  return names;
}

/** Largest datagram the automatic payload size aims for: a 9000-byte (jumbo) MTU. */
const AUTO_MTU_CAP = 9000;

/** Payload that fills one frame of the outgoing interface's MTU (no IP fragmentation: a lost
 *  fragment loses the whole datagram, and half-reassembled datagrams fill the receivers' kernel
 *  reassembly memory under loss). 1500-byte MTU when the interface cannot be told. */
function autoPayloadBytes(interfaceAddress: string | undefined, group: string, envelopeBytes: number): number {
  const name = outgoingInterface(interfaceAddress, group);
  const mtu = Math.min(AUTO_MTU_CAP, (name !== null ? interfaceMtu(name) : null) ?? 1500);
  return Math.max(MIN_PAYLOAD_BYTES, DEFAULT_PAYLOAD_BYTES + (mtu - 1500) - envelopeBytes);
}

export function parseSendOptions(raw: Raw): SendOptions {
  const base = common(raw);
  const allowedNames = receiverNames(raw);
  const minReceivers = num(raw, 'min-receivers', allowedNames?.length ?? 1, 1, allowedNames?.length ?? 256, true);
  const windowBytes = num(raw, 'window-mib', 64, 1, 1024, false) * MIB;
  // The envelope adds bytes to every datagram: keep the default inside a 1500-byte MTU.
  const keyed = raw['key-file'] !== undefined;
  const envelopeBytes = keyed ? ENVELOPE_OVERHEAD_BYTES : 0;
  const payloadBytes = raw['payload-bytes'] === undefined || raw['payload-bytes'] === 'auto'
    ? autoPayloadBytes(base.interfaceAddress, base.group, envelopeBytes)
    : num(raw, 'payload-bytes', DEFAULT_PAYLOAD_BYTES - envelopeBytes, MIN_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES - envelopeBytes, true);
  if (payloadBytes * 4 > windowBytes) throw new UsageError('window-mib', `at least 4 packets (${payloadBytes * 4} bytes)`, raw['window-mib']);
  return {
    ...base,
    command: text(raw, 'command', undefined, 64 * 1024),
    source: parseSourceOptions(raw),
    ttl: num(raw, 'ttl', 1, 0, 255, true),
    minReceivers,
    allowedNames,
    maxWaitMinReceivers: num(raw, 'max-wait-min-receivers', minReceivers, 1, 256, true),
    minWaitMs: num(raw, 'min-wait-sec', 0, 0, DAY_SEC, false) * 1000,
    maxWaitMs: num(raw, 'max-wait-sec', 0, 0, DAY_SEC, false) * 1000,
    maxRateBitsPerSec: num(raw, 'max-rate-mbps', 1000, 0.1, 100_000, false) * 1e6,
    payloadBytes,
    windowBytes: Math.round(windowBytes),
    dropAfterMs: num(raw, 'drop-after-sec', 0, 0, DAY_SEC, false) * 1000,
    reportFile: text(raw, 'report', undefined, 4096),
    receiverNetworks: receiverNetworks(raw, base.interfaceAddress, base.group),
    compress: compressSpec(raw),
  };
}

/** --compress zstd[:LEVEL] | off. */
function compressSpec(raw: Raw): CompressSpec | undefined {
  const v = text(raw, 'compress', undefined, 32);
  if (v === undefined || v === 'off') return undefined;
  const m = /^zstd(?::(\d{1,2}))?$/.exec(v);
  const level = m ? (m[1] === undefined ? ZSTD_DEFAULT_LEVEL : Number(m[1])) : NaN;
  if (!(level >= 1 && level <= ZSTD_MAX_LEVEL)) throw new UsageError('compress', `zstd, zstd:LEVEL (LEVEL 1 to ${ZSTD_MAX_LEVEL}), or off`, v);
  return { codec: 'zstd', level };
}

/** --receiver-networks: CIDRs, or any; by default the outgoing interface's own networks (none
 *  known: any), so repairs and replies never go to an address off this segment. */
function receiverNetworks(raw: Raw, interfaceAddress: string | undefined, group: string): Network[] | null {
  const v = text(raw, 'receiver-networks', undefined, 4096);
  if (v === 'any') return null;
  if (v === undefined) {
    const name = outgoingInterface(interfaceAddress, group);
    const nets = name === null ? [] : interfaceNetworks(name);
    return nets.length ? nets : null;
  }
  const nets = v.split(',').map((x) => parseNetwork(x));
  if (nets.some((n) => n === null)) throw new UsageError('receiver-networks', 'IPv4 networks in CIDR form separated by commas (e.g. 10.0.0.0/24), or any', v);
  return nets as Network[];
}

/** --output: a file, a directory (archive with the default name), or a name template. */
function output(raw: Raw): { outputFile?: string; archive?: ArchiveSpec } {
  const v = text(raw, 'output', undefined, 4096);
  const keep = num(raw, 'keep', 0, 0, 100_000, true);
  const form = `a file, a directory, or a name template with ${ARCHIVE_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')} (e.g. /srv/dumps/app-{timestamp}.dump)`;
  if (v === undefined) {
    if (raw.keep !== undefined) throw UsageError.onlyWith('keep', '--output DIR or an --output name template with {timestamp}', raw.keep);
    return {};
  }
  let dir: string; let template: string;
  if (fs.existsSync(v) && fs.statSync(v).isDirectory()) { dir = v; template = DEFAULT_ARCHIVE_TEMPLATE; }
  else if (v.includes('{')) {
    dir = path.dirname(v); template = path.basename(v);
    if (dir.includes('{')) throw new UsageError('output', `${form}; placeholders only in the file name`, v);
    for (const m of template.matchAll(/\{([^}]*)\}?/g)) if (!ARCHIVE_PLACEHOLDERS.includes(m[1]) || !m[0].endsWith('}')) throw new UsageError('output', form, v);
  } else {
    if (raw.keep !== undefined) throw UsageError.onlyWith('keep', '--output DIR or an --output name template with {timestamp}', raw.keep);
    return { outputFile: v };
  }
  if (keep > 0 && !template.includes('{timestamp}')) throw UsageError.onlyWith('keep', 'an --output name template containing {timestamp}', raw.keep);
  return { archive: { dir, template, keep } };
}

/** {job} and {name} become part of an archive's file name: they must keep it in its directory. */
function archiveNamePart(archive: ArchiveSpec | undefined, key: 'job' | 'name', value: string): void {
  if (archive === undefined || !archive.template.includes(`{${key}}`) || isPlainFileName(value)) return;
  throw new UsageError(key, `a name without /, NUL or .. when --output uses {${key}}`, value);
}

function senderAddress(raw: Raw): string | undefined {
  const v = text(raw, 'sender', undefined, 64);
  if (v === undefined) return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(v);
  if (!m || m.slice(1).some((x) => Number(x) > 255)) throw new UsageError('sender', 'the sender\'s IPv4 address, e.g. 10.0.0.5', v);
  return v;
}

export function parseReceiveOptions(raw: Raw): ReceiveOptions {
  const { outputFile, archive } = output(raw);
  const pipeCommand = text(raw, 'pipe', undefined, 64 * 1024);
  const target = parseRestoreOptions(raw);
  const shared = common(raw);
  const name = text(raw, 'name', os.hostname().slice(0, MAX_NAME_BYTES), MAX_NAME_BYTES) as string;
  archiveNamePart(archive, 'job', shared.job);
  archiveNamePart(archive, 'name', name);
  return {
    ...shared,
    name,
    outputFile,
    archive,
    restore: target,
    reportFile: text(raw, 'report', undefined, 4096),
    senderAddress: senderAddress(raw),
    pipeCommand,
    // stdout is the sink unless another was chosen; --stdout adds it explicitly.
    stdout: bool(raw, 'stdout') || (outputFile === undefined && archive === undefined && pipeCommand === undefined && target === undefined),
    startTimeoutMs: num(raw, 'start-timeout-sec', 0, 0, DAY_SEC, false) * 1000,
    maxWindowBytes: Math.round(num(raw, 'max-window-mib', 1024, 1, 4095, false) * MIB),
    maxClockSkewMs: num(raw, 'max-clock-skew-sec', 300, 1, DAY_SEC, false) * 1000,
    seenSessionsFile: text(raw, 'seen-sessions', undefined, 4096),
    sourceStateFile: text(raw, 'source-state', undefined, 4096),
    acceptNewSource: bool(raw, 'accept-new-source'),
    allowReplicaSource: bool(raw, 'allow-replica-source'),
    store: storeMode(raw),
  };
}

/** --store plain|compressed: what --output keeps of a compressed stream. */
function storeMode(raw: Raw): 'plain' | 'compressed' {
  const v = text(raw, 'store', 'plain', 32);
  if (v !== 'plain' && v !== 'compressed') throw new UsageError('store', 'plain or compressed', v);
  if (raw.store !== undefined && raw.output === undefined) throw UsageError.onlyWith('store', '--output', raw.store);
  return v;
}
