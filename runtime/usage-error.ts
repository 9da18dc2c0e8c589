/** Local misuse (a bad flag or config value, or a local setup the flags do not fit): reported
 *  with the key and exit code 2. The message always reads `--KEY: expected FORM, got VALUE`
 *  (or `--KEY: MESSAGE` for the few that are not about a value's form). */
export class UsageError extends Error {
  readonly code = 'E_USAGE';
  constructor(readonly key: string, readonly expected: string, readonly got: unknown, message?: string) {
    super(`--${key}: ${message ?? `expected ${expected}, ${describeGot(got)}`}`);
  }

  /** A flag given where it means nothing, e.g. --jobs without --restore postgres. */
  static onlyWith(key: string, what: string, got: unknown): UsageError {
    return new UsageError(key, `only with ${what}`, got, `used with ${what} only, ${describeGot(got)}`);
  }
}

/** What was given, for a message: quoted text, never `undefined`, `null`, `NaN` or `[object …]`. */
export function describeGot(got: unknown): string {
  if (got === undefined) return 'but it was not given';
  if (got === null) return 'but it was empty';
  if (got === '') return 'but it was empty';
  if (typeof got === 'string') return `got ${JSON.stringify(got)}`;
  if (typeof got === 'number') return Number.isFinite(got) ? `got ${got}` : 'got something that is not a number';
  if (typeof got === 'boolean') return `got ${got}`;
  if (Array.isArray(got)) return `but it was given ${got.length} times (${got.map((x) => JSON.stringify(String(x))).join(', ')})`;
  return `got ${typeof got === 'object' ? 'a mapping' : typeof got}`;
}
