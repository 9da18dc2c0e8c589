// Interface selection and socket helpers shared by sender and receiver.
import * as dgram from 'dgram';
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
