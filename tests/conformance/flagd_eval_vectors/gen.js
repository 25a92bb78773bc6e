// Differential vectors: random JsonLogic targeting rules and contexts, with
// the results of the reference evaluator @openfeature/flagd-core 4.0.1,
// written in the test kit's format (flags.json + cases.json) so that
// //tests/conformance:flagd_eval_differential checks Roost against them.
//
//   cd tools/bench/engine && npm ci        # installs flagd-core
//   node tests/conformance/flagd_eval_vectors/gen.js [count] [seed]
//
// Each case gets its own flag whose variants include String(result) of
// the rule for that context (found by evaluating once with no matching
// variant), so the expected value shows what the rule computed, and errors
// (PARSE_ERROR, GENERAL) and null results (DEFAULT) show up as such.
// The generator only uses what Roost supports: operators of flagd's set,
// arrays of constants outside `in` lists and fractional buckets.
'use strict';
const fs = require('fs');
const path = require('path');
const modules = path.join(__dirname, '../../../tools/bench/engine/node_modules');

// fractional hashes with imurmurhash, which reads UTF-16 code units; flagd
// (Go), the issue and Roost hash the UTF-8 bytes. They agree on ASCII keys;
// for the rest the vectors follow the UTF-8 definition: feed imurmurhash the
// UTF-8 bytes as one char each.
const mm = require.resolve(path.join(modules, 'imurmurhash'));
const Murmur = require(mm);
function Utf8Murmur(key, seed) {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8').toString('latin1') : key;
  return this instanceof Utf8Murmur ? new Murmur(bytes, seed) : Murmur(bytes, seed);
}
require.cache[mm].exports = Utf8Murmur;
const core = require(path.join(modules, '@openfeature/flagd-core'));

Date.now = () => 1700000000000; // $flagd.timestamp, as the runner sets it

const COUNT = Number(process.argv[2] || 2000);
let seed = Number(process.argv[3] || 20261126) >>> 0;
function rnd() { // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;

const CONTEXTS = [
  {},
  { targetingKey: 'user-1', email: 'ballmer@macrosoft.com', age: 42, score: 0, on: true, name: '',
    ver: '1.2.3', num: '10', user: { name: 'jack', tier: 'gold', age: '17' } },
  { targetingKey: '', email: null, age: '42', score: -0.5, on: false, ver: 2, num: ' 0x1F ',
    user: { name: null, tier: 'silver' } },
  { targetingKey: 'jon@company.com', age: 1e21, ver: 'v2.0.0-rc.1+b', email: 'ABC', 'x.y': 5,
    user: 'plain', num: 'abc' },
  { targetingKey: 7, age: 17.5, ver: 1.2, name: 'é😀x', on: 'false', score: 3, num: '-1.5e3',
    user: { name: 'queen', age: 30, tier: '' } },
  { targetingKey: 'key-ü', age: 0, ver: '3.0.1', email: 'x@y.z', name: 'abcdef', num: '',
    user: { tier: 'gold', name: 'ten' } },
];

const PATHS = ['email', 'age', 'score', 'on', 'name', 'ver', 'num', 'user', 'user.name',
  'user.tier', 'user.age', 'missing', 'x.y', 'x\\.y', '$flagd.flagKey', 'targetingKey',
  'user.name.first', '$flagd'];

const STRINGS = ['', 'a', 'abc', '10', '1e3', ' 12 ', '0x1f', '2.0.0', 'v1.0', '1.2', 'true',
  'null', 'é', '😀x', 'ballmer@macrosoft.com', 'gold', 'jack', '-3', 'Infinity', 'ab'];
const NUMBERS = [0, 1, -1, 2.5, 10, 100, 1e21, 1e-7, 0.1, 3, 17, 42, -0.5, 2147483648];

function literal() {
  switch (Math.floor(rnd() * 9)) {
    case 0: case 1: case 2: return pick(STRINGS);
    case 3: case 4: return pick(NUMBERS);
    case 5: return chance(0.5);
    case 6: return null;
    case 7: return pick([[], [1, 2], ['a', 'b'], [null], [[1], 2], ['abc', 10, true], [0]]);
    default: return pick([{}, 'gold', 1, 'a']);
  }
}

const OPS = ['var', 'var', 'var', 'if', '==', '===', '!=', '!==', '<', '<=', '>', '>=', '!',
  '!!', 'and', 'or', 'in', 'cat', 'substr', '+', '-', '*', '/', '%', 'min', 'max',
  'starts_with', 'ends_with', 'sem_ver', 'fractional'];

function nargs(lo, hi) { return lo + Math.floor(rnd() * (hi - lo + 1)); }

// json-logic-engine 5.0.7 compiles and/or to an unparenthesized `a ? b : c`
// chain, so as an operand of cat, the haystack of in, or a var default,
// JavaScript precedence turns them into a different expression
// ({"cat": ["a", {"or": [x, "y"]}]} returns x). Roost evaluates those as
// JsonLogic defines them (docs/engine.md), so they are not generated.
function noAndOr(depth) {
  for (;;) {
    const e = expr(depth);
    if (!(e && typeof e === 'object' && !Array.isArray(e) && ('and' in e || 'or' in e))) return e;
  }
}

function expr(depth) {
  if (depth <= 0 || chance(0.3)) return chance(0.5) ? literal() : { var: pick(PATHS) };
  const op = pick(OPS);
  const sub = () => expr(depth - 1);
  const plain = () => noAndOr(depth - 1);
  const list = (n) => Array.from({ length: n }, sub);
  switch (op) {
    case 'var':
      if (chance(0.3)) return { var: [pick(PATHS), plain()] };
      return { var: pick(PATHS) };
    case 'if': return { if: list(nargs(0, 5)) };
    case '==': case '===': case '!=': case '!==': case '<': case '<=': case '>': case '>=':
      return { [op]: list(chance(0.8) ? 2 : nargs(0, 4)) };
    case '!': case '!!': return { [op]: chance(0.8) ? [sub()] : sub() };
    case 'and': case 'or': return { [op]: list(nargs(0, 3)) };
    case 'in':
      if (chance(0.4)) return { in: [sub(), pick([['a', 'abc', 10], ['gold', 'silver'], [1, '1', true], []])] };
      if (chance(0.2)) return { in: [sub(), [sub(), sub()]] };
      return chance(0.2) ? { in: [sub()] } : { in: [sub(), plain()] };
    case 'cat': return { cat: chance(0.85) ? Array.from({ length: nargs(0, 3) }, plain) : { var: pick(PATHS) } };
    case 'substr': return { substr: [sub(), ...list(nargs(0, 2))] };
    case '+': case '-': case '*': case '/': case '%': case 'min': case 'max':
      return { [op]: list(nargs(0, 3)) };
    case 'starts_with': case 'ends_with': return { [op]: list(chance(0.8) ? 2 : nargs(0, 3)) };
    case 'sem_ver':
      return { sem_ver: chance(0.85)
        ? [sub(), pick(['=', '!=', '<', '<=', '>', '>=', '^', '~', '===']), pick(['1.2.3', '2.0.0', 'v1', '1.2', '2.0.0-rc.1', '3.0.0', sub()])]
        : list(nargs(0, 4)) };
    case 'fractional': {
      const buckets = Array.from({ length: nargs(1, 4) }, () =>
        chance(0.8) ? [pick(['red', 'blue', 'green', 1, true, null]), pick([1, 25, 50, 0, -5, 2.5, sub()])] : sub());
      return { fractional: chance(0.5) ? [sub(), ...buckets] : buckets };
    }
  }
  return null;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

// String(result) of the rule for ctx, or null for a null result, or
// undefined when the rule errors.
function probe(key, rule, ctx) {
  const f = new core.FeatureFlag(key, { state: 'ENABLED', variants: { __probe__: 'x' },
    defaultVariant: '__probe__', targeting: rule }, silent);
  const r = f.evaluate(ctx, silent);
  if (r.reason === 'DEFAULT') return null;
  const m = /^Variant '([\s\S]*)' not found in flag with key /.exec(r.errorMessage || '');
  return m ? m[1] : undefined;
}

const flags = {};
const cases = [];
let made = 0;
for (let i = 0; made < COUNT && i < COUNT * 20; i++) {
  const rule = expr(1 + Math.floor(rnd() * 3));
  if (rule === null || typeof rule !== 'object' || Array.isArray(rule) || Object.keys(rule).length === 0) continue;
  const ctx = pick(CONTEXTS);
  const key = `d${made}`;
  let name;
  try { name = probe(key, rule, ctx); } catch (e) { continue; }
  const variants = { fallback: 'fallback-value' };
  if (typeof name === 'string' && name.length > 0 && Buffer.byteLength(name) <= 255 && name !== 'fallback')
    variants[name] = `value:${name}`;
  flags[key] = { state: 'ENABLED', variants, defaultVariant: 'fallback', targeting: rule };
  cases.push({ feature: 'differential', scenario: JSON.stringify(rule), context: ctx,
    type: 'String', flag: key, fallback: 'caller-default' });
  made++;
}

const engine = new core.FlagdCore(undefined, silent);
engine.setConfigurations(JSON.stringify({ flags }));
for (const c of cases) {
  const r = engine.resolveStringEvaluation(c.flag, c.fallback, c.context, silent);
  c.expect_value = r.value;
  c.expect_reason = r.reason;
  c.expect_error = r.errorCode || null;
}

const dir = __dirname;
fs.writeFileSync(path.join(dir, 'flags.json'), JSON.stringify({ flags }) + '\n');
fs.writeFileSync(path.join(dir, 'cases.json'), JSON.stringify({ cases }).replace(/},{"feature"/g, '},\n{"feature"') + '\n');
const tally = {};
for (const c of cases) tally[c.expect_error || c.expect_reason] = (tally[c.expect_error || c.expect_reason] || 0) + 1;
console.log(`${cases.length} cases`, tally);
