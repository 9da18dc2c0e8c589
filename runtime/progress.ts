// A live progress line on stderr for one-shot send/receive, only when stderr is a terminal
// (never in logs, pipes or under systemd).
const INTERVAL_MS = 1000;

export function startProgress(render: (elapsedSec: number) => string): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  const t0 = performance.now();
  const draw = (): void => { process.stderr.write(`\r\x1b[K${render((performance.now() - t0) / 1000)}`); };
  const timer = setInterval(draw, INTERVAL_MS);
  timer.unref();
  return () => { clearInterval(timer); process.stderr.write('\r\x1b[K'); };
}

export const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
