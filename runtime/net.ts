// Interface selection and socket helpers shared by sender and receiver.
import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import { UsageError } from './usage-error';

const isIpv4 = (v: string): boolean => /^\d{1,3}(\.\d{1,3}){3}$/.test(v) && v.split('.').every((x) => Number(x) <= 255);

const isMulticast = (v: string): boolean => { const first = Number(v.split('.')[0]); return first >= 224 && first <= 239; };

/** Resolve `--interface` (a name like eth0, or an IPv4 address) to an IPv4 address. An address
 *  is not required to be this host's here: a config may be checked on another host
 *  (requireLocalAddress checks it where the socket is bound). */
export function resolveInterface(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^[\d.]+$/.test(value)) {
    if (isIpv4(value)) return value;
    throw new UsageError('interface', 'an interface name or an IPv4 address such as 10.0.0.5', value);
  }
  const addrs = os.networkInterfaces()[value];
  const v4 = addrs?.find((a) => a.family === 'IPv4');
  if (!v4) {
    const names = Object.keys(os.networkInterfaces()).join(', ');
    throw new UsageError('interface', `an interface with an IPv4 address (${names}) or an IPv4 address`, value);
  }
  return v4.address;
}

/** This host's IPv4 addresses. */
export function localAddresses(): string[] {
  return Object.values(os.networkInterfaces()).flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4').map((a) => a.address);
}

/** Before binding: an --interface address this host does not have is a local setup error (the
 *  kernel would refuse the bind or the group membership with EADDRNOTAVAIL). */
export function requireLocalAddress(address: string | undefined): void {
  if (address === undefined || address === '0.0.0.0') return;
  const local = localAddresses();
  if (!local.includes(address)) {
    throw new UsageError('interface', `an address of this host (${local.join(', ')}) or an interface name`, address);
  }
}

/** A bind the user may not do (a port below 1024 without the capability) is a setup error
 *  naming --port; other errors are passed on as they are. */
export function bindSocket(sock: dgram.Socket, port: number, address?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EACCES' && port > 0) reject(new UsageError('port', 'a port this user may bind (1024 or above, or CAP_NET_BIND_SERVICE)', port));
      else if (err.code === 'EADDRNOTAVAIL' && address !== undefined && !isMulticast(address)) reject(new UsageError('interface', 'an address of this host', address));
      else reject(err);
    };
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

/** An IPv4 network: a base address and a prefix length. */
export interface Network { base: number; prefixBits: number }

const maskOf = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

export function parseNetwork(cidr: string): Network | null {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m || m[1].split('.').some((x) => Number(x) > 255) || Number(m[2]) > 32) return null;
  const bits = Number(m[2]);
  return { base: (ipv4ToInt(m[1]) & maskOf(bits)) >>> 0, prefixBits: bits };
}

export function inNetworks(address: string, nets: readonly Network[]): boolean {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address)) return false;
  const a = ipv4ToInt(address);
  return nets.some((n) => ((a & maskOf(n.prefixBits)) >>> 0) === n.base);
}

/** The IPv4 networks of an interface (from its addresses and netmasks). */
export function interfaceNetworks(name: string): Network[] {
  return (os.networkInterfaces()[name] ?? []).filter((a) => a.family === 'IPv4' && a.cidr)
    .map((a) => parseNetwork(a.cidr as string)).filter((n): n is Network => n !== null);
}

/** How many IPv4 UDP sockets of this network namespace are bound to `port` (/proc/net/udp);
 *  null when that cannot be told. */
export function udpSocketsOnPort(port: number): number | null {
  let table: string;
  try { table = fs.readFileSync('/proc/net/udp', 'utf8'); } catch { return null; }
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').slice(1).filter((line) => line.trim().split(/\s+/)[1]?.endsWith(hex)).length;
}
