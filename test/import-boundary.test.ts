// The floors import one way (protocol -> runtime -> sender / receiver -> src) and protocol/
// stays pure. First the checker is shown to catch each kind of breach, then the tree is checked.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { FLOORS, checkSource, forbiddenReferences, importProblem, specifiersOf } from './helpers/import-rules';

const ROOT = path.resolve(__dirname, '..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(rel);
    return e.isFile() && e.name.endsWith('.ts') ? [rel] : [];
  });
}

t.test('the checker: specifiers are read from imports, exports, import() and require, not comments', async (t) => {
  const source = [
    "import * as a from './a';",
    "import type { B } from '../runtime/b';",
    "export { c } from './c';",
    "const d = require('d');",
    "const e = import('./e');",
    "// import { f } from '../src/f';",
    "const g = \"from '../src/g'\";",
  ].join('\n');
  t.same(specifiersOf(source), ['./a', '../runtime/b', './c', 'd', './e']);
});

t.test('the checker refuses each kind of breach', async (t) => {
  const refused: Array<[string, string]> = [
    ['protocol/x.ts', 'fs'],
    ['protocol/x.ts', 'node:dgram'],
    ['protocol/x.ts', 'net'],
    ['protocol/x.ts', 'child_process'],
    ['protocol/x.ts', 'timers'],
    ['protocol/x.ts', 'yaml'],
    ['protocol/x.ts', '../runtime/clock'],
    ['protocol/sub/x.ts', '../../src/cli'],
    ['runtime/x.ts', '../sender/run-send'],
    ['runtime/x.ts', '../receiver/sinks/sink'],
    ['runtime/x.ts', '../src/options'],
    ['sender/x.ts', '../receiver/run-receive'],
    ['sender/x.ts', '../src/options'],
    ['receiver/x.ts', '../sender/input'],
    ['receiver/restore/postgres/x.ts', '../../../src/config'],
    ['receiver/x.ts', '../test/helpers/dbcast'],
    ['receiver/x.ts', '../../elsewhere'],
  ];
  for (const [file, spec] of refused) t.not(importProblem(file, spec), null, `${file} importing '${spec}' is refused`);
  const allowed: Array<[string, string]> = [
    ['protocol/x.ts', 'crypto'],
    ['protocol/x.ts', 'node:zlib'],
    ['protocol/x.ts', 'crc-32'],
    ['protocol/x.ts', './codec'],
    ['runtime/x.ts', '../protocol'],
    ['runtime/x.ts', 'dgram'],
    ['runtime/x.ts', './clock'],
    ['sender/x.ts', '../runtime/clock'],
    ['receiver/restore/postgres/x.ts', '../../../protocol'],
    ['receiver/restore/postgres/x.ts', '../staging-sink'],
    ['src/daemon/x.ts', '../../receiver/run-receive'],
    ['src/x.ts', 'yargs'],
  ];
  for (const [file, spec] of allowed) t.equal(importProblem(file, spec), null, `${file} importing '${spec}' is allowed`);
});

t.test('the checker finds a clock, randomness or timers in protocol code, not in comments or names', async (t) => {
  t.same(forbiddenReferences('const t = Date.now();\nconst r = Math.random();'), ['Date.now', 'Math.random']);
  t.same(forbiddenReferences('setTimeout(f, 1); const h = setInterval(f, 5); globalThis.setTimeout(f, 2);'), ['setTimeout', 'setInterval', 'setTimeout']);
  t.same(forbiddenReferences('const now = Date.now; now();'), ['Date.now'], 'taken without a call still counts');
  t.same(forbiddenReferences('// Date.now() is passed in\nconst s = "Math.random()";\ninterface I { setTimeout: number }\nx.setTimeout = 1;'), []);
  t.equal(checkSource('protocol/x.ts', 'export const now = (): number => Date.now();').length, 1, 'a protocol file doing so is a violation');
  t.equal(checkSource('runtime/x.ts', 'export const now = (): number => Date.now();').length, 0, 'runtime/ keeps the clock');
});

t.test('the tree keeps its floors', async (t) => {
  for (const floor of FLOORS) {
    const files = tsFiles(floor);
    t.ok(files.length > 0, `${floor}/ has sources to check (${files.length})`);
    const violations = files.flatMap((f) => checkSource(f, fs.readFileSync(path.join(ROOT, f), 'utf8')));
    t.same(violations, [], `${floor}/: no import across the floors, ${floor === 'protocol' ? 'no I/O, clock, randomness or timers' : 'one way only'}`);
  }
});
