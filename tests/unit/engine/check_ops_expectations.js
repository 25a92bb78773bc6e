// Re-checks every EXPECT(rule, context, want) line of ops_test.c against
// the reference evaluator @openfeature/flagd-core 4.0.1, so the unit tests
// cannot drift into asserting Roost's own mistakes.
//
//   (cd tools/bench/engine && npm ci)
//   node tests/unit/engine/check_ops_expectations.js
//
// A line passes when flagd-core computes the same value, or fails the same
// way (GENERAL: a throw at evaluation; PARSE: a throw when the flag loads).
// COMPILE expectations are Roost's own limits and are skipped, as are
// lines marked "Roost differs" in the test file and rules with invalid
// UTF-8 (JavaScript strings cannot hold it).
'use strict';
const fs = require('fs');
const path = require('path');
const modules = path.join(__dirname, '../../../tools/bench/engine/node_modules');
const mm = require.resolve(path.join(modules, 'imurmurhash'));
const Murmur = require(mm);
require.cache[mm].exports = function (key, seed) { // UTF-8 bucketing, as flagd (Go) and Roost
  return new Murmur(Buffer.from(key, 'utf8').toString('latin1'), seed);
};
const core = require(path.join(modules, '@openfeature/flagd-core'));
Date.now = () => 1700000000000;
const silent = { debug() {}, info() {}, warn() {}, error() {} };

const src = fs.readFileSync(path.join(__dirname, 'ops_test.c'), 'latin1');
const cstr = (s) => Buffer.from(s.replace(/\\x([0-9a-f]{2})|\\(["\\])/g,
  (m, hex, ch) => (hex ? String.fromCharCode(parseInt(hex, 16)) : ch)), 'latin1').toString('utf8');
const defs = {};
for (const m of src.matchAll(/#define (\w+)\s+((?:\\\s*)?(?:"(?:[^"\\]|\\.)*"\s*(?:\\\s*)?)+)/g))
  defs[m[1]] = [...m[2].matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => cstr(x[1])).join('');
const arg = (a) => (a.trim().startsWith('"') ? [...a.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => cstr(x[1])).join('') : defs[a.trim()]);

function describe(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') return 'n:' + String(v);
  if (typeof v === 'string') return 's:' + v;
  if (Array.isArray(v)) return 'a:' + String(v);
  return 'object';
}
const glob = (p, s) => new RegExp('^' + p.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*') + '$').test(s);

let checked = 0, skipped = 0, bad = 0;
for (const m of src.matchAll(/EXPECT\(((?:[^;])*?)\);(.*)/g)) {
  const parts = m[1].split(/,\s*(?=(?:[A-Z]+|")\b|")/);
  if (parts.length < 3) { skipped++; continue; }
  const [rule, ctx, want] = [arg(parts[0]), arg(parts[1]), arg(parts.slice(2).join(','))];
  if (rule === undefined || ctx === undefined || want === undefined || want.startsWith('COMPILE') ||
      /\uFFFD/.test(rule + ctx + want) || /Roost differs/.test(m[2])) { skipped++; continue; }
  const flag = new core.FeatureFlag('t', { state: 'ENABLED', variants: { a: 'a' }, targeting: JSON.parse(rule) }, silent);
  let got;
  if (flag._targetingParseErrorMessage) got = 'PARSE: ';
  else {
    try { got = describe(flag._targeting.evaluate('t', JSON.parse(ctx), silent)); } catch (e) { got = 'GENERAL: '; }
  }
  const ok = want.startsWith('PARSE') || want.startsWith('GENERAL') ? got.startsWith(want.slice(0, 5)) : glob(want, got);
  checked++;
  if (!ok) { bad++; console.log(`MISMATCH ${rule} ctx ${ctx}: flagd-core ${got}, test expects ${want}`); }
}
console.log(`${checked} checked against flagd-core, ${skipped} skipped, ${bad} mismatched`);
process.exit(bad ? 1 : 0);
