// A sender whose ANNOUNCE says which database server the dump came from: the real SenderSession
// with the info text the sender's source presets (--source postgres|mariadb) put there. Until
// those presets can run here without servers, it is how the loopback tests exercise the
// receivers' source guard with an identity of the test's choosing.
import type { SenderReport } from '../../protocol';
import type { SourceIdentity } from '../../runtime/source-identity';
import { encodeStreamInfo } from '../../runtime/stream-info';
import { sendOnLoopback } from './session-sender';

export async function sendWithSource(o: { group: string; port: number; job: string; minReceivers: number; input: Buffer; source: SourceIdentity }): Promise<SenderReport> {
  return sendOnLoopback({ ...o, announceInfo: encodeStreamInfo({ source: o.source as unknown as Record<string, unknown> }) });
}
