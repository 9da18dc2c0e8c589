/** Local misuse (a bad flag or config value): reported with the key and exit code 2. */
export class UsageError extends Error {
  readonly code = 'E_USAGE';
  constructor(readonly key: string, readonly expected: string, readonly got: unknown) {
    super(`--${key}: expected ${expected}, got ${JSON.stringify(got)}`);
  }
}
