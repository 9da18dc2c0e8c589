// Multi-host test bed: one network namespace per host, veth pairs into a bridge that lives in
// its own namespace, addresses that exist only inside these namespaces. Loss per Ethernet
// frame with nftables at the netdev ingress hook (so IP fragments pay their real price), link
// rate with tc tbf on the sender's link. Root only; everything is torn down by down().
import { execFileSync } from 'child_process';

export interface BedConfig {
  receivers: number;
  mtu: number;
  /** Per receiver: percent of incoming UDP frames dropped (data and control alike). */
  lossPercent: number[];
  /** Sender link rate for tc tbf, e.g. '1gbit'; undefined = unlimited. */
  rate?: string;
}

export interface Host { ns: string; address: string }

const PREFIX = 'dbct';
const SUBNET = '10.231.0';

function sh(args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const inNs = (ns: string, args: string[]): string => sh(['ip', 'netns', 'exec', ns, ...args]);

export function canRunBed(): { ok: boolean; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root (network namespaces)' };
  for (const tool of ['ip', 'nft', 'tc']) {
    try { sh(['sh', '-c', `command -v ${tool}`]); } catch { return { ok: false, why: `needs ${tool} (apt-get install iproute2 nftables)` }; }
  }
  return { ok: true, why: '' };
}

/** Remove namespaces left by a run that was killed before its teardown. */
export function sweepStale(): void {
  const list = sh(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]).filter((n) => n.startsWith(PREFIX));
  for (const ns of list) {
    const pid = Number(ns.slice(PREFIX.length).split('-')[0]);
    let alive = false;
    try { process.kill(pid, 0); alive = pid !== process.pid; } catch { alive = false; }
    if (!alive || pid === process.pid) { try { sh(['ip', 'netns', 'del', ns]); } catch { /* already gone */ } }
  }
}

export class TestBed {
  readonly sender: Host;
  readonly receivers: Host[];
  private readonly bridgeNs: string;
  private readonly namespaces: string[] = [];

  constructor(readonly cfg: BedConfig, id: string) {
    const base = `${PREFIX}${process.pid}-${id}`;
    this.bridgeNs = `${base}-br`;
    this.sender = { ns: `${base}-h0`, address: `${SUBNET}.1` };
    this.receivers = Array.from({ length: cfg.receivers }, (_, i) => ({ ns: `${base}-h${i + 1}`, address: `${SUBNET}.${i + 2}` }));
  }

  get hosts(): Host[] { return [this.sender, ...this.receivers]; }

  up(): void {
    const { mtu } = this.cfg;
    this.addNs(this.bridgeNs);
    inNs(this.bridgeNs, ['ip', 'link', 'add', 'br0', 'mtu', String(mtu), 'type', 'bridge', 'mcast_snooping', '0']);
    inNs(this.bridgeNs, ['ip', 'link', 'set', 'br0', 'up']);
    this.hosts.forEach((h, i) => {
      this.addNs(h.ns);
      // Create the pair inside the host namespace, then move the peer to the bridge.
      inNs(h.ns, ['ip', 'link', 'add', 'e0', 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', `p${i}`, 'mtu', String(mtu)]);
      inNs(h.ns, ['ip', 'link', 'set', `p${i}`, 'netns', this.bridgeNs]);
      inNs(this.bridgeNs, ['ip', 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      inNs(h.ns, ['ip', 'link', 'set', 'lo', 'up']);
      inNs(h.ns, ['ip', 'addr', 'add', `${h.address}/24`, 'dev', 'e0']);
      inNs(h.ns, ['ip', 'link', 'set', 'e0', 'up']);
      inNs(h.ns, ['ip', 'route', 'add', '224.0.0.0/4', 'dev', 'e0']);
    });
    this.receivers.forEach((h, i) => {
      const p = this.cfg.lossPercent[i] ?? 0;
      if (p <= 0) return;
      const rules = [
        'table netdev loss {',
        '  chain in {',
        '    type filter hook ingress device e0 priority 0;',
        `    ip protocol udp numgen random mod 100 < ${p} drop`,
        '  }',
        '}',
      ].join('\n');
      execFileSync('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
    });
    if (this.cfg.rate) {
      inNs(this.sender.ns, ['tc', 'qdisc', 'add', 'dev', 'e0', 'root', 'tbf', 'rate', this.cfg.rate, 'burst', '256kb', 'latency', '50ms']);
    }
  }

  private addNs(ns: string): void {
    sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
  }

  down(): void {
    for (const ns of this.namespaces) {
      // Whatever still runs in a namespace (a test that failed halfway) is killed first.
      let pids: string[] = [];
      try { pids = sh(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean); } catch { /* gone */ }
      for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* exited */ } }
    }
    for (const ns of this.namespaces.reverse()) { try { sh(['ip', 'netns', 'del', ns]); } catch { /* gone */ } }
    this.namespaces.length = 0;
  }
}

/** Load an nftables ruleset (nft -f syntax) into a namespace. */
export function nft(ns: string, rules: string): void {
  execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Packets and bytes a named nftables counter has seen in a namespace (`counter NAME {}` in `table FAMILY TABLE`). */
export function nftCounter(ns: string, family: string, table: string, name: string): { packets: number; bytes: number } {
  const out = JSON.parse(inNs(ns, ['nft', '-j', 'list', 'counter', family, table, name])) as { nftables: { counter?: { packets: number; bytes: number } }[] };
  const c = out.nftables.find((x) => x.counter)?.counter;
  if (!c) throw new Error(`no counter ${family} ${table} ${name} in ${ns}`);
  return { packets: c.packets, bytes: c.bytes };
}
