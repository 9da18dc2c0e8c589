// Split-brain guard on the sender: until the transfer starts, listen on the group for another
// sender announcing the same job (the old primary's cron still running after a failover). The
// session decides (SenderSession.handleGroupPacket); this is only the socket. Closed once the
// transfer starts: from then on the receivers watch for rivals, and our own DATA would cost
// a decode per packet here.
import * as dgram from 'dgram';
import type { Endpoint } from '../protocol';
import { wire } from '../runtime/keyed';
import { bindSocket } from '../runtime/net';

export interface RivalEar { close(): void }

export async function listenForRivals(
  opts: { port: number; group: string; interfaceAddress?: string; key: Buffer | null },
  onPacket: (bytes: Buffer, from: Endpoint) => void,
  onError: (message: string) => void,
): Promise<RivalEar> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true }); // beside the receivers on this host
  await bindSocket(sock, opts.port, opts.group);
  sock.addMembership(opts.group, opts.interfaceAddress);
  // Not locked to our session: a rival's sealed ANNOUNCE must open (keys derive at a bounded rate).
  const link = wire(opts.key, 0);
  let closed = false;
  sock.on('message', (msg, rinfo) => {
    const packet = link.in(msg);
    if (packet) onPacket(packet, rinfo);
  });
  sock.on('error', (err) => onError(err.message));
  return { close: () => { if (!closed) { closed = true; sock.close(); } } };
}
