// "did you mean": the known name nearest to a mistyped flag or command.

/** Edits (insert, delete, replace, swap two neighbours) from a to b. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The nearest known name, if it is near enough to be what was meant: at most a third of the
 *  name's letters edited (at least one), or the given text is the start of exactly one name. */
export function suggestion(given: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const dist = editDistance(given, k);
    if (dist < bestDistance) { best = k; bestDistance = dist; }
  }
  if (best !== undefined && bestDistance <= Math.max(1, Math.floor(given.length / 3))) return best;
  const prefixed = given.length >= 3 ? known.filter((k) => k.startsWith(given)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const camel = (k: string): string => k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** The flags in a parsed command line that the command does not know, as the user typed them
 *  (--name, --no-name, -x). yargs adds a camelCase copy of every kebab-case key: those are
 *  not counted twice. */
export function unknownFlags(parsed: Record<string, unknown>, known: readonly string[], args: readonly string[]): string[] {
  const knownSet = new Set([...known, ...known.map(camel)]);
  const unknown = Object.keys(parsed).filter((k) => !['_', '$0', '--'].includes(k) && !knownSet.has(k));
  const kebab = new Set(unknown.filter((k) => k.includes('-')).map(camel));
  return unknown.filter((k) => !kebab.has(k) || k.includes('-')).map((k) => {
    if (k.length === 1) return `-${k}`;
    const negated = args.some((a) => a === `--no-${k}` || a.startsWith(`--no-${k}=`));
    return negated ? `--no-${k}` : `--${k}`;
  });
}

/** "unknown flag --x; did you mean --y?" for each, joined. */
export function unknownFlagMessage(flags: readonly string[], known: readonly string[]): string {
  const longKnown = known.filter((k) => k.length > 1);
  const parts = flags.map((f) => {
    const bare = f.replace(/^--?(no-)?/, '');
    const near = suggestion(bare, longKnown);
    return near === undefined ? `unknown flag ${f}` : `unknown flag ${f}; did you mean --${near}?`;
  });
  return parts.join('; ');
}
