// The sink factory, the kinds sink failures carry (what run-receive reads the exit status
// from), and the preset registry's rules, checked for every registered preset.
import t from 'tap';
import * as fs from 'fs';
import * as path from 'path';
import { openSinks } from '../receiver/sink-factory';
import { PRESETS } from '../receiver/restore/presets';
import { ArchiveSink } from '../receiver/sinks/archive-sink';
import { FileSink } from '../receiver/sinks/file-sink';
import { PipeSink } from '../receiver/sinks/pipe-sink';
import type { Sink } from '../receiver/sinks/sink';
import { createLogger } from '../runtime/log';
import { RECEIVE } from '../src/flags';
import { parseReceiveOptions } from '../src/options';
import { tempDir } from './helpers/dbcast';

const VERIFIED = { sha256: 'a'.repeat(64), bytes: 0 };

t.test('every sink failure says what kind of sink failed', async (t) => {
  const dir = tempDir(t);
  const refused = new FileSink(path.join(dir, 'x.dump'), false, 'refused for the test');
  t.match(await refused.finish(VERIFIED), { kind: 'output', label: `--output ${dir}/x.dump` });
  const archive = new ArchiveSink({ dir, template: '{name}.dump', keep: 0 }, { job: 'app', name: 'a/b' }, new Date());
  t.match(await archive.finish(VERIFIED), { kind: 'archive' }, 'an archive is not an --output file');
  const pipe = new PipeSink('cat >/dev/null; exit 3', true);
  t.match(await pipe.finish(), { kind: 'pipe', exitCode: 3 }, 'the command\'s exit status comes with it');
});

t.test('the factory opens the sinks the options ask for, in feeding order', async (t) => {
  const dir = tempDir(t);
  const opts = parseReceiveOptions({ output: path.join(dir, 'a.dump'), pipe: 'cat >/dev/null', stdout: true });
  const sinks: Sink[] = openSinks(opts, { log: createLogger('receive', 'error'), now: new Date(), restore: null });
  t.same(sinks.map((s) => s.constructor.name), ['FileSink', 'PipeSink', 'StdoutSink']);
  await Promise.all(sinks.map((s) => s.abort()));
  t.same(fs.readdirSync(dir), [], 'aborted: no file left');
  const archive = parseReceiveOptions({ output: dir });
  const only = openSinks(archive, { log: createLogger('receive', 'error'), now: new Date(), restore: null });
  t.same(only.map((s) => s.constructor.name), ['ArchiveSink'], 'an archive alone: no stdout');
  await Promise.all(only.map((s) => s.abort()));
});

/** The least a --restore needs: a database unless the preset refuses one, a data directory when it takes one. */
const minimal = (p: (typeof PRESETS)[number]): Record<string, unknown> => ({
  restore: p.name, ...(p.refusesShared?.includes('database') ? {} : { database: 'app' }), ...('data-dir' in p.flags ? { 'data-dir': '/srv/db/data' } : {}),
});

t.test('each registered preset: its flags are flags, and refused without it', async (t) => {
  const names = PRESETS.map((p) => p.name);
  t.equal(new Set(names).size, names.length, 'preset names are distinct');
  t.match(RECEIVE.restore.describe, names.join(' or '), '--restore lists every preset');
  for (const preset of PRESETS) {
    const target = parseReceiveOptions(minimal(preset)).restore;
    t.equal(target?.kind, preset.name, `--restore ${preset.name} is parsed by its preset`);
    for (const flag of Object.keys(preset.flags)) {
      t.ok(flag in RECEIVE, `--${flag} is a receive flag (and a config key)`);
      const value = preset.flags[flag].type === 'boolean' ? true : '1';
      t.throws(() => parseReceiveOptions({ [flag]: value }), { code: 'E_USAGE', key: flag }, `--${flag} without --restore is refused`);
      for (const other of PRESETS) {
        if (other === preset || flag in other.flags) continue;
        t.throws(() => parseReceiveOptions({ ...minimal(other), [flag]: value }),
          // A flag two presets share (--data-dir) names the first of them.
          { code: 'E_USAGE', key: flag, message: new RegExp(`used with --restore (${PRESETS.filter((p) => flag in p.flags).map((p) => p.name).join('|')})\\b`) }, `--${flag} with --restore ${other.name} is refused`);
      }
    }
  }
});

