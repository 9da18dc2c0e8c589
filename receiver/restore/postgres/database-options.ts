// The archive's CREATE DATABASE line (printed by `pg_restore --create --schema-only`) gives the
// staging database the dump's encoding and locale. That line comes from the stream, so it is
// never pasted into SQL: it is parsed with a strict grammar (known options only, values of a
// known shape) and the clause is rebuilt with our own quoting. Anything else is refused.
import { sqlLiteral } from '../target';

export type DatabaseOptions =
  | { ok: true; clause: string; options: Record<string, string> }
  | { ok: false; reason: string };

/** Locale names: en_US.UTF-8, de_DE@euro, C, und-u-ks-level2 (ICU), '' (unset). */
const LOCALE_VALUE = /^[A-Za-z0-9_.@=-]{0,128}$/;
/** Option → what its value may be. Literal values are re-quoted; keywords are emitted as they are. */
const OPTIONS: Record<string, { kind: 'literal' | 'keyword'; valid: RegExp }> = {
  TEMPLATE: { kind: 'keyword', valid: /^template0$/ },
  ENCODING: { kind: 'literal', valid: /^[A-Za-z0-9_]{1,32}$/ },
  LOCALE_PROVIDER: { kind: 'keyword', valid: /^(libc|icu|builtin)$/ },
  LOCALE: { kind: 'literal', valid: LOCALE_VALUE },
  LC_COLLATE: { kind: 'literal', valid: LOCALE_VALUE },
  LC_CTYPE: { kind: 'literal', valid: LOCALE_VALUE },
  ICU_LOCALE: { kind: 'literal', valid: LOCALE_VALUE },
  BUILTIN_LOCALE: { kind: 'literal', valid: LOCALE_VALUE },
  // ICU tailoring rules ("&a < b"): printable ASCII without backslash, bounded.
  ICU_RULES: { kind: 'literal', valid: /^[\x20-\x5b\x5d-\x7e]{0,1024}$/ },
};
const MAX_LINE_BYTES = 4096;

type Token = { t: 'word'; v: string } | { t: 'literal'; v: string } | { t: 'quoted-ident'; v: string } | { t: 'sym'; v: string };

function tokenize(s: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === ' ') { i++; continue; }
    if (c === '=' || c === ';') { out.push({ t: 'sym', v: c }); i++; continue; }
    if (c === "'" || c === '"') {
      let v = ''; i++;
      for (;;) {
        if (i >= s.length) return `an unterminated ${c === "'" ? 'string' : 'quoted name'}`;
        if (s[i] === c) { if (s[i + 1] === c) { v += c; i += 2; continue; } i++; break; }
        v += s[i++];
      }
      out.push({ t: c === "'" ? 'literal' : 'quoted-ident', v });
      continue;
    }
    const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(s.slice(i));
    if (!m) return `an unexpected character ${JSON.stringify(c)}`;
    out.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return out;
}

/** Parse one `CREATE DATABASE name WITH KEY = value ...;` line and rebuild its WITH clause. */
export function parseCreateDatabase(line: string): DatabaseOptions {
  const refuse = (why: string): DatabaseOptions => ({ ok: false, reason: `the archive's CREATE DATABASE statement was refused: ${why}` });
  if (Buffer.byteLength(line) > MAX_LINE_BYTES) return refuse(`longer than ${MAX_LINE_BYTES} bytes`);
  const tokens = tokenize(line);
  if (typeof tokens === 'string') return refuse(tokens);
  let i = 0;
  const word = (w: string): boolean => { const k = tokens[i]; if (k?.t === 'word' && k.v.toUpperCase() === w) { i++; return true; } return false; };
  if (!word('CREATE') || !word('DATABASE')) return refuse('it does not start with CREATE DATABASE');
  const name = tokens[i++];
  if (!name || (name.t !== 'word' && name.t !== 'quoted-ident')) return refuse('no database name');
  const options: Record<string, string> = {};
  if (word('WITH')) {
    while (i < tokens.length && !(tokens[i].t === 'sym' && tokens[i].v === ';')) {
      const key = tokens[i++];
      if (key.t !== 'word') return refuse('an option name was expected');
      const k = key.v.toUpperCase();
      const spec = OPTIONS[k];
      if (!spec) return refuse(`unknown option ${k} (allowed: ${Object.keys(OPTIONS).join(', ')})`);
      if (k in options) return refuse(`${k} given twice`);
      const eq = tokens[i++];
      if (eq?.t !== 'sym' || eq.v !== '=') return refuse(`"=" expected after ${k}`);
      const value = tokens[i++];
      if (!value || (value.t !== 'literal' && value.t !== 'word')) return refuse(`a value expected for ${k}`);
      if (!spec.valid.test(value.v)) return refuse(`${k} = ${JSON.stringify(value.v)} is not of the expected form`);
      options[k] = value.v;
    }
  }
  const end = tokens[i++];
  if (end?.t !== 'sym' || end.v !== ';' || i !== tokens.length) return refuse('anything after the statement\'s ";" is refused');
  return { ok: true, clause: buildClause(options), options };
}

/** Always from template0 (the dump recreates everything); the rest as parsed, quoted by us. */
function buildClause(options: Record<string, string>): string {
  const parts = ['TEMPLATE = template0'];
  for (const [k, v] of Object.entries(options)) {
    if (k === 'TEMPLATE') continue;
    parts.push(`${k} = ${OPTIONS[k].kind === 'literal' ? sqlLiteral(v) : v}`);
  }
  return ` WITH ${parts.join(' ')}`;
}

/** The first CREATE DATABASE line in pg_restore's schema script (there is one per archive). */
export function databaseOptionsFromScript(script: string): DatabaseOptions {
  const line = script.split('\n').find((l) => /^CREATE DATABASE /i.test(l));
  if (line === undefined) return { ok: true, clause: ' WITH TEMPLATE = template0', options: {} };
  return parseCreateDatabase(line);
}
