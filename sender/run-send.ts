// `dbcast send`: drives a SenderSession with a real socket, a real clock and the input.
import { randomBytes } from 'crypto';
import * as dgram from 'dgram';
import { SENDER_TIMING_DEFAULTS, SenderSession, type SenderReport, type Transmit } from '../protocol';
import { EXIT } from '../runtime/exit-codes';
import type { Logger } from '../runtime/log';
import { bindSocket, enlargeBuffers, inNetworks, requireLocalAddress, udpSocketsOnPort, type Network } from '../runtime/net';
import { nowMs } from '../runtime/clock';
import { wire } from '../runtime/keyed';
import { mib, startProgress } from '../runtime/progress';
import { Driver, onInterrupt } from '../runtime/driver';
import type { SendOptions } from './send-options';
import { formatSenderReport, writeJsonFile } from '../runtime/report';
import { UsageError } from '../runtime/usage-error';
import { commandInput, stdinInput, type InputSource } from './input';
import { encodeStreamInfo } from '../runtime/stream-info';
import { prepareSource } from './source/prepare';
import { listenForRivals, type RivalEar } from './rival-ear';
import { compressedInput } from './compress';

/** Packets sent per turn of the event loop: sends complete synchronously, so yield often. */
const SEND_BATCH = 64;
/** Datagrams libuv may hold queued before we stop handing it more. */
const MAX_SEND_QUEUE = 512;
const SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

export function senderExitCode(r: SenderReport): number {
  if (r.outcome === 'aborted') {
    switch (r.abortReason) {
      case 'input-failed': return EXIT.ABORTED;
      case 'not-enough-receivers': return EXIT.NO_SESSION;
      case 'interrupted': return EXIT.INTERRUPTED_OR_MISMATCH;
      default: return EXIT.RECEIVERS_FAILED;
    }
  }
  const joined = r.receivers.filter((x) => x.outcome !== 'missing');
  if (joined.length === 0) return EXIT.NO_SESSION;
  // A receiver that took part and failed outweighs one that never came.
  if (!joined.every((x) => x.outcome === 'ok')) return EXIT.RECEIVERS_FAILED;
  return r.degraded ? EXIT.DEGRADED : EXIT.OK;
}

/** Tries at finding a port no other socket shares (see senderSockets). */
const PORT_TRIES = 8;

/**
 * Group sends go out of a second socket on the same address and port, connected to the group:
 * a connected send skips Node's address lookup and the kernel's route lookup per datagram
 * (user + system CPU per send 9.5 -> 4.5 us in a microbenchmark). Receivers see one sender
 * endpoint; their replies reach `sock`, as a connected socket only takes its peer's. Sharing the
 * port takes SO_REUSEADDR, with which the kernel may hand out a port another such socket holds
 * (another sender on this host): the pair is kept only when it is alone on its port.
 */
async function senderSockets(interfaceAddress: string | undefined): Promise<{ sock: dgram.Socket; groupSock: dgram.Socket }> {
  for (let attempt = 1; ; attempt++) {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await bindSocket(sock, 0, interfaceAddress);
    const groupSock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await bindSocket(groupSock, sock.address().port, interfaceAddress);
    const holders = udpSocketsOnPort(sock.address().port);
    if (holders === null || holders <= 2) return { sock, groupSock };
    sock.close(); groupSock.close();
    if (attempt === PORT_TRIES) throw new Error(`no UDP port of its own after ${PORT_TRIES} tries`);
  }
}

export async function runSend(opts: SendOptions, log: Logger): Promise<number> {
  // --source: the identity is read (and a replica refused) before anything is announced.
  const source = opts.source ? await prepareSource(opts.source, { log, job: opts.job, reportFile: opts.reportFile }) : undefined;
  if (source && !source.ok) return source.exitCode;
  const command = source ? source.command : opts.command;
  if (!command && process.stdin.isTTY) {
    throw new UsageError('command', 'a dump command (--command "pg_dump -Fc app"), or the dump piped into stdin', 'stdin is a terminal');
  }
  requireLocalAddress(opts.interfaceAddress);
  const { sock, groupSock } = await senderSockets(opts.interfaceAddress);
  for (const s of [sock, groupSock]) {
    if (opts.interfaceAddress) s.setMulticastInterface(opts.interfaceAddress);
    s.setMulticastTTL(opts.ttl);
    s.setMulticastLoopback(true); // receivers on this host count too
    enlargeBuffers(s, SOCKET_BUFFER_BYTES);
  }
  await new Promise<void>((resolve, reject) => {
    groupSock.once('error', reject);
    groupSock.connect(opts.port, opts.group, () => { groupSock.off('error', reject); resolve(); });
  });
  const sendQueueCount = (): number => sock.getSendQueueCount() + groupSock.getSendQueueCount();

  const sessionId = randomBytes(8).toString('hex');
  log = log.child({ job: opts.job, role: 'send', session: sessionId }); // fields of every JSON log line
  const session = new SenderSession({
    ...SENDER_TIMING_DEFAULTS,
    sessionId, job: opts.job, payloadBytes: opts.payloadBytes,
    windowBytes: opts.windowBytes, minReceivers: opts.minReceivers, maxWaitMinReceivers: opts.maxWaitMinReceivers,
    minWaitMs: opts.minWaitMs, maxWaitMs: opts.maxWaitMs, maxRateBitsPerSec: opts.maxRateBitsPerSec,
    dropAfterMs: opts.dropAfterMs, idleTimeoutMs: opts.idleTimeoutMs, allowedNames: opts.allowedNames,
    cookieSecret: randomBytes(32),
    announceInfo: encodeStreamInfo({ ...(opts.compress ? { compression: opts.compress.codec } : {}), ...(source ? { source: { ...source.identity } } : {}) }),
    ...(opts.receiverNetworks ? { acceptEndpoint: (e: { address: string }) => inNetworks(e.address, opts.receiverNetworks as Network[]) } : {}),
  }, nowMs());
  log.info(`announcing job '${opts.job}' on ${opts.group}:${opts.port}, waiting for ${opts.minReceivers} receiver(s)`);

  const onStderr = (chunk: Buffer): void => { process.stderr.write(chunk); };
  const rawInput: InputSource = opts.compress ? compressedInput(command, opts.compress, onStderr)
    : command ? commandInput(command, onStderr)
    : stdinInput();
  const input = source ? source.confirmAfterDump(rawInput) : rawInput;
  let inputSettled = false;
  void input.done.then((res) => {
    inputSettled = true;
    if (res.ok) session.handleInputEnd(nowMs());
    else { log.error(res.message); session.handleInputFailed(res.message, nowMs()); }
    kick();
  });

  const sendErrors = new Set<string>();
  const link = wire(opts.key, 0, sessionId); // the sender is envelope party 0
  const send = (t: Transmit): void => {
    const port = t.to ? t.to.port : opts.port;
    const address = t.to ? t.to.address : opts.group;
    const sent = (err: Error | null): void => {
      if (err && !sendErrors.has(err.message)) { sendErrors.add(err.message); log.warn(`send to ${address}:${port} failed: ${err.message}`); }
    };
    if (t.to) sock.send(link.out(t.bytes), port, address, sent);
    else groupSock.send(link.out(t.bytes), sent);
  };

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  let ear: RivalEar | null = null; // listens for another sender of this job until the transfer starts

  const pumpInput = (): void => {
    while (!inputSettled && session.inputSpaceBytes() > 0) {
      const chunk = input.stream.read() as Buffer | null;
      if (chunk === null) break;
      session.handleInput(chunk, nowMs());
    }
  };

  const run = (): void => {
    const now = nowMs();
    pumpInput(); // before the deadlines: a stalled-input flush must not cut a packet the input can fill
    session.handleTimeout(now);
    let sent = 0;
    while (sent < SEND_BATCH && sendQueueCount() < MAX_SEND_QUEUE) {
      const t = session.pollTransmit(now);
      if (!t) break;
      send(t);
      sent++;
    }
    for (let e = session.pollEvent(); e; e = session.pollEvent()) {
      switch (e.type) {
        case 'joined': log.info(`receiver ${e.name} joined from ${e.address} (${e.receivers} now)`); break;
        case 'refused': log.warn(`refused receiver ${e.name} at ${e.address}: ${e.reason}`); break;
        case 'started': ear?.close(); log.info(`starting transfer to ${e.receivers} receiver(s)`); break;
        case 'dropped': log.warn(`dropped receiver ${e.name} at ${e.address}: ${e.reason}`); break;
        case 'receiver-done': log.info(`receiver ${e.name} at ${e.address} finished: ${e.status}${e.detail ? ` (${e.detail})` : ''}`); break;
        case 'aborting': ear?.close(); log.error(`aborting the session: ${e.reason}${e.message ? ` (${e.message})` : ''}`); break;
        case 'finished': break;
      }
    }
    if (session.isFinished) { finish(); return; }
    if (sent === SEND_BATCH || sendQueueCount() >= MAX_SEND_QUEUE) { kick(); return; }
    const wait = session.pollTimeoutMs(nowMs());
    if (wait <= 0) kick();
    else driver.arm(wait);
  };
  const driver = new Driver(run, nowMs);
  const kick = driver.kick;
  ear = await listenForRivals(opts, (bytes, from) => { session.handleGroupPacket(bytes, from, nowMs()); kick(); },
    (message) => log.warn(`group listener: ${message}`));
  if (session.currentState !== 'waiting') ear.close();

  sock.on('message', (msg, rinfo) => {
    const packet = link.in(msg);
    if (packet) { session.handlePacket(packet, rinfo, nowMs()); kick(); }
  });
  sock.on('error', (err) => log.error(`socket error: ${err.message}`));
  groupSock.on('error', (err) => log.error(`socket error: ${err.message}`));
  input.stream.on('readable', kick);
  input.stream.on('error', () => { /* reported through input.done */ });

  const undoSignals = onInterrupt((sig) => {
    log.warn(`${sig}: aborting the transfer (again to quit at once)`);
    session.handleInterrupt(nowMs());
    kick();
  }, EXIT.INTERRUPTED_OR_MISMATCH);

  kick();
  const stopProgress = startProgress((sec) => {
    const r = session.report();
    const live = r.receivers.filter((x) => x.outcome === 'incomplete');
    // What the slowest live receiver has: the rate that matters, not how fast input is read.
    const delivered = live.length ? Math.min(...live.map((x) => x.bytes)) : r.totalBytes;
    return `dbcast send: ${mib(r.totalBytes)} MiB read, ${mib(delivered)} MiB at every receiver, ${mib(delivered / Math.max(sec, 0.001))} MiB/s, ${live.length} receiver(s) live, ${r.repairPacketsSent} repairs`;
  });
  await finished;
  stopProgress();
  undoSignals();
  driver.stop();
  if (!inputSettled) input.stop();
  sock.close();
  groupSock.close();
  ear.close();

  const report = session.report();
  const code = senderExitCode(report);
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stderr.write(formatSenderReport(report, code) + '\n');
  log.verbose(`peak RSS ${(peakRssBytes / 1048576).toFixed(0)} MiB`);
  if (Object.keys(link.dropped).length) log.warn(`packets rejected by the key: ${JSON.stringify(link.dropped)}`);
  if (opts.reportFile) writeJsonFile(opts.reportFile, { ...report, ...(source ? { source: source.identity } : {}), keyed: link.keyed, rejectedByKey: link.dropped, exitCode: code, senderPeakRssBytes: peakRssBytes });
  return code;
}
