// A live progress line on stderr for one-shot send/receive, only when stderr is a terminal
// (never in logs, pipes or under systemd). A log line written meanwhile clears it first
// (runtime/log.ts calls clearProgressLine), and the next tick draws it again below.
const INTERVAL_MS = 1000;
const CLEAR_LINE = '\r\x1b[K';

/** Whether a progress line is on the terminal now, not yet ended by a newline. */
let shown = false;

/** Before other output to stderr: wipe the progress line so the output starts on a clean line. */
export function clearProgressLine(): void {
  if (!shown) return;
  shown = false;
  process.stderr.write(CLEAR_LINE);
}

export function startProgress(render: (elapsedSec: number) => string): () => void {
  if (!process.stderr.isTTY) return () => undefined;
  const t0 = performance.now();
  const draw = (): void => { process.stderr.write(`${CLEAR_LINE}${render((performance.now() - t0) / 1000)}`); shown = true; };
  const timer = setInterval(draw, INTERVAL_MS);
  timer.unref();
  return () => { clearInterval(timer); clearProgressLine(); };
}

export const mib = (bytes: number): string => (bytes / 1048576).toFixed(1);
