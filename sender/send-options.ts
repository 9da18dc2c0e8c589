// What `dbcast send` runs with, as validated from its flags (src/options.ts).
import type { CommonOptions } from '../runtime/common-options';
import type { Network } from '../runtime/net';
import type { SourceTarget } from './source/preset';
import type { CompressSpec } from './compress';

export interface SendOptions extends CommonOptions {
  /** --receivers: only these names may join. */
  allowedNames: string[] | undefined;
  command: string | undefined;
  /** --source: a preset builds the dump command and reads the source's identity (excludes --command). */
  source: SourceTarget | undefined;
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
  /** Receivers may join only from these networks; null = from anywhere. */
  receiverNetworks: Network[] | null;
  /** --compress zstd[:LEVEL]; undefined = the dump as it is. */
  compress: CompressSpec | undefined;
}
