// The strict grammar for the archive's CREATE DATABASE line: what pg_dump writes is accepted and
// rebuilt with our own quoting; anything that could smuggle a second statement is refused.
import t from 'tap';
import { databaseOptionsFromScript, parseCreateDatabase } from '../receiver/restore/postgres/database-options';

t.test('lines pg_dump writes are accepted and rebuilt', async (t) => {
  const cases: Array<[string, string]> = [
    ["CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';",
      " WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8'"],
    ["CREATE DATABASE \"My \"\"App\" WITH TEMPLATE = template0 ENCODING = 'LATIN1' LC_COLLATE = 'de_DE@euro' LC_CTYPE = 'de_DE@euro';",
      " WITH TEMPLATE = template0 ENCODING = 'LATIN1' LC_COLLATE = 'de_DE@euro' LC_CTYPE = 'de_DE@euro'"],
    ["CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'en_US.UTF-8' ICU_LOCALE = 'und-u-ks-level2' ICU_RULES = '&a < b';",
      " WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = icu LOCALE = 'en_US.UTF-8' ICU_LOCALE = 'und-u-ks-level2' ICU_RULES = '&a < b'"],
    ["CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = builtin BUILTIN_LOCALE = 'C.UTF-8';",
      " WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = builtin BUILTIN_LOCALE = 'C.UTF-8'"],
    ['CREATE DATABASE app;', ' WITH TEMPLATE = template0'],
  ];
  for (const [line, clause] of cases) {
    const r = parseCreateDatabase(line);
    t.ok(r.ok, line);
    if (r.ok) t.equal(r.clause, clause);
  }
  const quoted = parseCreateDatabase("CREATE DATABASE app WITH ICU_RULES = '&a < ''b''';");
  t.ok(quoted.ok && quoted.clause === " WITH TEMPLATE = template0 ICU_RULES = '&a < ''b'''", 'a quote inside a value is quoted again by us');
});

t.test('anything else is refused with a reason', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ["CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8'; COPY (SELECT 1) TO PROGRAM 'touch /tmp/x';", /unexpected character "\("|after the statement/],
    ["CREATE DATABASE app WITH TEMPLATE = template0; DROP DATABASE postgres;", /after the statement/],
    ["CREATE DATABASE app WITH OWNER = postgres;", /unknown option OWNER/],
    ["CREATE DATABASE app WITH TEMPLATE = template1;", /TEMPLATE = "template1" is not of the expected form/],
    ["CREATE DATABASE app WITH LOCALE = 'C'' ; SELECT 1; --';", /LOCALE = .* is not of the expected form/],
    ["CREATE DATABASE app WITH LOCALE = E'\\x41';", /option name was expected/],
    ["CREATE DATABASE app WITH LOCALE = 'C' LOCALE = 'C';", /LOCALE given twice/],
    ["CREATE DATABASE app WITH LOCALE = 'C", /unterminated string/],
    ["CREATE DATABASE app WITH ENCODING 'UTF8';", /"=" expected after ENCODING/],
    ["CREATE DATABASE app WITH ICU_RULES = '\\';", /ICU_RULES .* not of the expected form/],
    ['CREATE TABLE x;', /does not start with CREATE DATABASE/],
    [`CREATE DATABASE app WITH LOCALE = '${'a'.repeat(5000)}';`, /longer than 4096 bytes/],
    ['CREATE DATABASE app WITH LOCALE = \'C\' -- comment', /unexpected character "-"/],
    ['CREATE DATABASE app WITH LOCALE = \'C\'', /after the statement/],
  ];
  for (const [line, why] of bad) {
    const r = parseCreateDatabase(line);
    t.notOk(r.ok, line.slice(0, 80));
    if (!r.ok) t.match(r.reason, why, line.slice(0, 80));
  }
});

t.test('from a schema script: the first CREATE DATABASE line counts, the rest of the script is never used', async (t) => {
  const script = "--\n-- PostgreSQL database dump\n--\nCREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8';\nCOPY (SELECT 1) TO PROGRAM 'x';\n";
  const r = databaseOptionsFromScript(script);
  t.ok(r.ok && r.clause === " WITH TEMPLATE = template0 ENCODING = 'UTF8'");
  t.same(databaseOptionsFromScript('-- no statement\n'), { ok: true, clause: ' WITH TEMPLATE = template0', options: {} }, 'none: template0 and the server defaults');
});
