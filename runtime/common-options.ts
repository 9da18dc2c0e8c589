// The options `dbcast send` and `dbcast receive` share, as validated from their flags (src/options.ts).

export interface CommonOptions {
  group: string;
  port: number;
  interfaceAddress: string | undefined;
  job: string;
  idleTimeoutMs: number;
  logLevel: string;
  /** Keyed mode: the pre-shared key (AES-256-GCM envelopes), or null for CRC-only. */
  key: Buffer | null;
}
