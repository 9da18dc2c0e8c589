// Interface selection and socket helpers shared by sender and receiver.
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import { UsageError } from './usage-error';

/** Resolve `--interface` (a name like eth0, or an IPv4 address) to an IPv4 address. */
export function resolveInterface(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value)) return value;
  const addrs = os.networkInterfaces()[value];
  const v4 = addrs?.find((a) => a.family === 'IPv4');
  if (!v4) {
    const names = Object.keys(os.networkInterfaces()).join(', ');
    throw new UsageError('interface', `an interface with an IPv4 address (${names}) or an IPv4 address`, value);
  }
  return v4.address;
}

export function bindSocket(sock: dgram.Socket, port: number, address?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    sock.once('error', onError);
    sock.bind(port, address, () => { sock.off('error', onError); resolve(); });
  });
}

/** Ask for big kernel buffers; the kernel caps them at net.core.[rw]mem_max. */
export function enlargeBuffers(sock: dgram.Socket, bytes: number): void {
  try { sock.setRecvBufferSize(bytes); } catch { /* capped or refused: keep the default */ }
  try { sock.setSendBufferSize(bytes); } catch { /* idem */ }
}

const ipv4ToInt = (a: string): number => a.split('.').reduce((acc, x) => acc * 256 + Number(x), 0);

/** The interface multicast to `group` leaves by: the one named by its address, else the most
 *  specific IPv4 route (/proc/net/route). null when that cannot be told (not Linux, no route). */
export function outgoingInterface(interfaceAddress: string | undefined, group: string): string | null {
  if (interfaceAddress) {
    for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
      if (addrs?.some((a) => a.family === 'IPv4' && a.address === interfaceAddress)) return name;
    }
    return null;
  }
  let table: string;
  try { table = fs.readFileSync('/proc/net/route', 'utf8'); } catch { return null; }
  const target = ipv4ToInt(group);
  let best: { name: string; maskBits: number } | null = null;
  for (const line of table.split('\n').slice(1)) {
    const [name, destHex, , , , , , maskHex] = line.trim().split(/\s+/);
    if (!name || !destHex || !maskHex) continue;
    // The kernel prints these little-endian.
    const dest = Buffer.from(destHex, 'hex').readUInt32LE(0);
    const mask = Buffer.from(maskHex, 'hex').readUInt32LE(0);
    if (((target & mask) >>> 0) !== ((dest & mask) >>> 0)) continue;
    const maskBits = mask.toString(2).split('1').length - 1;
    if (!best || maskBits > best.maskBits) best = { name, maskBits };
  }
  return best?.name ?? null;
}

/** The MTU of a network interface, or null when unknown. */
export function interfaceMtu(name: string): number | null {
  try {
    const mtu = Number(fs.readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    return Number.isInteger(mtu) && mtu >= 576 ? mtu : null;
  } catch { return null; }
}
