// The floors import one way: protocol -> runtime -> sender / receiver -> src (the app).
// protocol/ is pure: no sockets, timers, files, processes, clock or randomness of its own.
// Specifiers are read by the TypeScript compiler's own pre-processor (imports, exports,
// import(), require), so a comment or a string that looks like an import is not one.
import * as path from 'path';
import ts from 'typescript';

export const FLOORS = ['protocol', 'runtime', 'sender', 'receiver', 'src'] as const;
export type Floor = (typeof FLOORS)[number];

/** The folders each floor may import from (its own included). */
const MAY_IMPORT: Record<Floor, readonly Floor[]> = {
  protocol: ['protocol'],
  runtime: ['runtime', 'protocol'],
  sender: ['sender', 'runtime', 'protocol'],
  receiver: ['receiver', 'runtime', 'protocol'],
  src: FLOORS,
};

/** Modules protocol/ may use: checksums and AEAD, nothing that does I/O or keeps time. crc-32
 *  is pure arithmetic, the CRC when node's zlib has no crc32 (before Node 20.15). */
const PROTOCOL_PACKAGES = ['crypto', 'zlib', 'crc-32'];

/** Calls that would give protocol/ its own clock, randomness or timers (they are passed in). */
const PROTOCOL_FORBIDDEN_REFERENCES = ['Date.now', 'Math.random', 'setTimeout', 'setInterval'];

export interface Violation { file: string; what: string; reason: string }

/** The floor a repository-relative path lies in, or null (test/, bench/, ...). */
export function floorOf(repoPath: string): Floor | null {
  const top = repoPath.split('/')[0];
  return (FLOORS as readonly string[]).includes(top) ? (top as Floor) : null;
}

/** Why `file` (repository-relative, a .ts under a floor) may not import `specifier`, or null. */
export function importProblem(file: string, specifier: string): string | null {
  const from = floorOf(file);
  if (from === null) return null;
  if (!specifier.startsWith('.')) {
    if (from !== 'protocol') return null;
    const name = specifier.replace(/^node:/, '');
    return PROTOCOL_PACKAGES.includes(name) ? null : `protocol/ may use only ${PROTOCOL_PACKAGES.join(', ')}, not '${specifier}' (I/O, timers and packages belong in runtime/)`;
  }
  const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
  const to = floorOf(target);
  if (to === null || target.startsWith('..')) return `${from}/ may import only from ${MAY_IMPORT[from].join(', ')}; '${specifier}' is outside every floor`;
  if (!MAY_IMPORT[from].includes(to)) return `${from}/ may import only from ${MAY_IMPORT[from].join(', ')}, not from ${to}/ ('${specifier}')`;
  return null;
}

/** Every module specifier the source names. */
export function specifiersOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** References to Date.now, Math.random, setTimeout or setInterval in code (not in comments or strings). */
export function forbiddenReferences(source: string): string[] {
  const sf = ts.createSourceFile('x.ts', source, ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAccessExpression(node)) {
      const text = `${node.expression.getText(sf)}.${node.name.text}`.replace(/^globalThis\./, '');
      if (PROTOCOL_FORBIDDEN_REFERENCES.includes(text)) found.push(text);
    } else if (ts.isIdentifier(node) && PROTOCOL_FORBIDDEN_REFERENCES.includes(node.text)) {
      const parent = node.parent as ts.Node & { name?: ts.Node };
      // A property or member merely named setTimeout is not the global.
      if (parent.name !== node && !ts.isPropertyAccessExpression(parent)) found.push(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Every rule broken by one file. */
export function checkSource(file: string, source: string): Violation[] {
  const out: Violation[] = [];
  for (const s of specifiersOf(source)) {
    const reason = importProblem(file, s);
    if (reason !== null) out.push({ file, what: `import '${s}'`, reason });
  }
  if (floorOf(file) === 'protocol') {
    for (const r of forbiddenReferences(source)) out.push({ file, what: r, reason: 'protocol/ takes time, randomness and deadlines as arguments' });
  }
  return out;
}
