// Baseline for the engine benchmark: the same flags, cases and contexts as
// bench.c, through @openfeature/flagd-core (the reference evaluator), one
// thread and two worker threads.
//
//   node bench.js FLAGS.json [REPS]
//
// Prints one JSON line per (case, threads) in bench.c's format. An
// evaluation is core.resolve<Type>Evaluation(key, default, context): the
// flag lookup by key plus resolution, with the context object built once,
// as bench.c does. Each repetition runs about 100 ms after a warm-up that
// lets V8 optimise (flagd-core compiles rules to JavaScript functions).
'use strict';
const fs = require('fs');
const path = require('path');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { FlagdCore } = require(path.join(__dirname, 'node_modules/@openfeature/flagd-core'));

const CASES = [
  { name: 'static-boolean', flag: 'boolean-flag', kind: 'bool', ctx: {}, expect: true },
  { name: 'ref-targeting-email', flag: 'some-email-targeted-flag', kind: 'string',
    ctx: { email: 'ballmer@macrosoft.com' }, expect: 'hi' },
  { name: 'semver-if-chain', flag: 'equal-greater-lesser-version-flag', kind: 'string',
    ctx: { version: '1.9.0' }, expect: 'lesser' },
  { name: 'fractional-4-way', flag: 'fractional-flag', kind: 'string',
    ctx: { user: { name: 'jack' } }, expect: 'hearts' },
];
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function makeCore(flagsText) {
  const core = new FlagdCore(undefined, silent);
  core.setConfigurations(flagsText);
  return core;
}

function evalOnce(core, c) {
  return c.kind === 'bool'
    ? core.resolveBooleanEvaluation(c.flag, false, c.ctx, silent).value
    : core.resolveStringEvaluation(c.flag, 'default', c.ctx, silent).value;
}

// Wall ns per evaluation over `iterations` evaluations.
function timeLoop(core, c, iterations) {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const v = evalOnce(core, c);
    sink += v === c.expect ? 1 : 0;
  }
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  if (sink !== iterations) throw new Error(`${c.name}: wrong result`);
  return ns;
}

// Process CPU ns (all threads: V8's compiler and GC included) since `from`.
const cpuNs = (from) => { const u = process.cpuUsage(from); return (u.user + u.system) * 1000; };

if (!isMainThread) {
  const { flagsText, caseIndex, iterations, reps, sab } = workerData;
  const core = makeCore(flagsText);
  const c = CASES[caseIndex];
  timeLoop(core, c, iterations); // warm-up
  const flag = new Int32Array(sab);
  const out = [];
  for (let r = 0; r < reps; r++) {
    // Start each repetition together with the other worker.
    Atomics.add(flag, 0, 1);
    while (Atomics.load(flag, 0) < 2 * (r + 1)) ;
    out.push(timeLoop(core, c, iterations));
  }
  parentPort.postMessage(out);
  return;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function main() {
  const flagsText = fs.readFileSync(process.argv[2], 'utf8');
  const reps = Number(process.argv[3] || 15);
  const core = makeCore(flagsText);
  for (let k = 0; k < CASES.length; k++) {
    const c = CASES[k];
    if (evalOnce(core, c) !== c.expect) throw new Error(`${c.name}: expected ${c.expect}`);
    timeLoop(core, c, 200000); // warm-up
    let iterations = 1000;
    while (timeLoop(core, c, iterations) * iterations < 5e7 && iterations < 2 ** 30) iterations *= 4;
    const one = [], oneCpu = [];
    for (let r = 0; r < reps; r++) {
      const cpu0 = process.cpuUsage();
      one.push(timeLoop(core, c, iterations));
      oneCpu.push(cpuNs(cpu0) / iterations);
    }
    report(c, 1, one, oneCpu, reps, iterations);

    const sab = new SharedArrayBuffer(4);
    let cpu0;
    const results = await Promise.all([0, 1].map(() => new Promise((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { flagsText, caseIndex: k, iterations, reps, sab } });
      w.on('message', resolve);
      w.on('error', reject);
    })).concat([new Promise((resolve) => { cpu0 = process.cpuUsage(); resolve(); })]));
    // Whole-run CPU (workers' start-up and warm-up included) per evaluation:
    // an upper bound for the two-thread case.
    const twoCpu = cpuNs(cpu0) / (2 * iterations * (reps + 1));
    const two = results[0].map((x, i) => (x + results[1][i]) / 2);
    report(c, 2, two, [twoCpu], reps, iterations);
  }
}

function report(c, threads, samples, cpu, reps, iterations) {
  const s = [...samples].sort((x, y) => x - y);
  console.log(JSON.stringify({ impl: 'flagd-core', case: c.name, threads,
    ns_median: +median(samples).toFixed(2), ns_min: +s[0].toFixed(2), ns_max: +s[s.length - 1].toFixed(2),
    cpu_ns_median: +median(cpu).toFixed(2), allocs_per_eval: null, reps, evals_per_rep: iterations }));
}

main().catch((e) => { console.error(e); process.exit(1); });
