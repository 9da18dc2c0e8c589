/** A UDP peer as the socket reports it. */
export interface Endpoint { address: string; port: number }

export const sameEndpoint = (a: Endpoint, b: Endpoint): boolean =>
  a.address === b.address && a.port === b.port;

export const formatEndpoint = (e: Endpoint): string => `${e.address}:${e.port}`;

/** A datagram the caller must send: to the group (`to === null`) or to one peer. */
export interface Transmit { bytes: Buffer; to: Endpoint | null }

/** Bounded FIFO of events for the caller's logs; the oldest are dropped when full. */
export class EventQueue<E> {
  private readonly items: E[] = [];
  dropped = 0;
  constructor(private readonly limit = 1000) {}
  push(e: E): void {
    if (this.items.length >= this.limit) { this.items.shift(); this.dropped++; }
    this.items.push(e);
  }
  shift(): E | null { return this.items.shift() ?? null; }
}

/** Counters for packets that were dropped, by reason. */
export type DropCounters = Record<string, number>;
export const countDrop = (c: DropCounters, reason: string): void => { c[reason] = (c[reason] ?? 0) + 1; };
