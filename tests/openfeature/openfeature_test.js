// OpenFeature's real flagd provider against a real roostd.
//
//   node openfeature_test.js ROOSTD ROOSTCTL FLAGS_JSON CASES_JSON
//
// Starts roostd on a free loopback port with a fresh data directory, applies
// the flags file with roostctl, then checks through @openfeature/server-sdk
// and @openfeature/flagd-provider (versions pinned in package.json):
//   - RPC mode: every case of the cases file resolves to the expected value,
//     reason, error code and metadata;
//   - in-process mode (the provider syncs with SyncFlags and evaluates
//     itself): the same cases;
//   - after `roostctl apply` of a change, both providers emit
//     ConfigurationChanged and the next evaluation sees the new value within
//     one second;
//   - roostd restarted: the providers reconnect and serve again.
// Prints one line per failure and ends with "N passed, M failed".
'use strict';

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const assert = require('assert');

let OpenFeature, ProviderEvents, FlagdProvider;
try {
  ({ OpenFeature, ProviderEvents } = require('@openfeature/server-sdk'));
  ({ FlagdProvider } = require('@openfeature/flagd-provider'));
} catch (e) {
  console.error('openfeature_test: npm packages missing (' + e.message + '); run tools/setup-node.sh');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const [roostdBin, roostctlBin, flagsFile, casesFile] = process.argv.slice(2);
if (!casesFile) {
  console.error('usage: node openfeature_test.js ROOSTD ROOSTCTL FLAGS_JSON CASES_JSON');
  process.exit(2);
}

let passed = 0;
let failed = 0;
function check(name, fn) {
  try {
    fn();
    passed++;
  } catch (e) {
    failed++;
    console.log('FAIL ' + name + ': ' + e.message);
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tmp = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'roost-of-'));
const dataDir = path.join(tmp, 'data');
const readyFile = path.join(tmp, 'ready');
let roostd = null;

async function startRoostd(listen) {
  try { fs.unlinkSync(readyFile); } catch (_) { /* first start */ }
  const log = fs.openSync(path.join(tmp, 'roostd.log'), 'a');
  roostd = spawn(roostdBin, ['--data', dataDir, '--listen', listen, '--ready-file', readyFile, '--log-level', process.env.ROOST_LOG_LEVEL || 'info',
    '--shutdown-grace', '2'], { stdio: ['ignore', log, log] });
  for (let i = 0; i < 200; i++) {
    if (fs.existsSync(readyFile)) {
      const addr = fs.readFileSync(readyFile, 'utf8').trim();
      if (addr) return addr;
    }
    await sleep(25);
  }
  throw new Error('roostd did not start: ' + fs.readFileSync(path.join(tmp, 'roostd.log'), 'utf8'));
}

async function stopRoostd() {
  if (!roostd) return;
  const p = roostd;
  roostd = null;
  const exited = new Promise((r) => p.on('exit', r));
  p.kill('SIGTERM');
  await Promise.race([exited, sleep(10000)]);
}

function roostctl(addr, ...args) {
  return execFileSync(roostctlBin, ['--server', addr, ...args], { encoding: 'utf8' });
}

const methodFor = {
  Boolean: 'getBooleanDetails',
  String: 'getStringDetails',
  Integer: 'getNumberDetails',
  Float: 'getNumberDetails',
  Object: 'getObjectDetails',
};

async function runCases(client, mode, cases) {
  for (const c of cases) {
    const name = `${mode}: ${c.feature}: ${c.scenario} [${c.flag} ${JSON.stringify(c.context)}]`;
    let d;
    try {
      d = await client[methodFor[c.type]](c.flag, c.fallback, c.context);
    } catch (e) {
      check(name, () => { throw e; });
      continue;
    }
    check(name, () => {
      const wantValue = c.expect_error ? c.fallback : c.expect_value;
      if (wantValue !== undefined) assert.deepStrictEqual(d.value, wantValue, 'value');
      if (c.expect_reason !== undefined) assert.strictEqual(d.reason, c.expect_reason, 'reason');
      if (c.expect_error !== undefined) {
        assert.strictEqual(d.errorCode === undefined ? null : d.errorCode, c.expect_error, 'error code');
      }
      if (c.expect_metadata !== undefined) {
        assert.deepStrictEqual(d.flagMetadata || {}, c.expect_metadata, 'metadata');
      }
    });
  }
}

function providerOptions(addr, resolverType) {
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];
  return { host, port, tls: false, resolverType, retryBackoffMs: 200, retryBackoffMaxMs: 1000,
    deadlineMs: 2000 };
}

// Waits for the client's next ConfigurationChanged event.
function nextChange(client) {
  return new Promise((resolve) => {
    const handler = (details) => {
      client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
      resolve(details);
    };
    client.addHandler(ProviderEvents.ConfigurationChanged, handler);
  });
}

async function evalUntil(client, key, want, ms) {
  const until = Date.now() + ms;
  let last;
  while (Date.now() < until) {
    last = await client.getStringDetails(key, 'fallback', {});
    if (last.value === want) return last;
    await sleep(20);
  }
  return last;
}

async function main() {
  const cases = JSON.parse(fs.readFileSync(casesFile, 'utf8')).cases;
  const addr = await startRoostd('127.0.0.1:0');
  roostctl(addr, 'apply', '-f', flagsFile);
  const changeDoc = path.join(tmp, 'change.json');
  const writeChange = (v) => fs.writeFileSync(changeDoc, JSON.stringify({
    metadata: { flagSetId: 'of-change' },
    flags: { 'of-change-flag': { state: 'ENABLED', variants: { a: v, b: 'other' }, defaultVariant: 'a' } },
  }));
  writeChange('before');
  roostctl(addr, 'apply', '-f', changeDoc);

  await OpenFeature.setProviderAndWait('rpc', new FlagdProvider(providerOptions(addr, 'rpc')));
  await OpenFeature.setProviderAndWait('inproc', new FlagdProvider(providerOptions(addr, 'in-process')));
  const rpc = OpenFeature.getClient('rpc');
  const inproc = OpenFeature.getClient('inproc');

  await runCases(rpc, 'rpc', cases);
  await runCases(inproc, 'in-process', cases);

  // A change reaches both providers as an event, and the next evaluation
  // sees it within one second.
  for (const [mode, client] of [['rpc', rpc], ['in-process', inproc]]) {
    const before = await client.getStringDetails('of-change-flag', 'fallback', {});
    check(`${mode}: change flag readable before the change`, () => assert.strictEqual(before.value, 'before'));
  }
  const changed = Promise.all([nextChange(rpc), nextChange(inproc)]);
  writeChange('after');
  const t0 = Date.now();
  roostctl(addr, 'apply', '-f', changeDoc);
  const events = await Promise.race([changed, sleep(5000).then(() => null)]);
  check('both providers emit ConfigurationChanged after an apply', () => assert.ok(events, 'no event within 5 s'));
  if (events) {
    check('rpc: ConfigurationChanged names the changed flag',
      () => assert.ok((events[0].flagsChanged || []).includes('of-change-flag'), JSON.stringify(events[0])));
  }
  for (const [mode, client] of [['rpc', rpc], ['in-process', inproc]]) {
    const d = await evalUntil(client, 'of-change-flag', 'after', 1000 - (Date.now() - t0));
    const ms = Date.now() - t0;
    check(`${mode}: evaluation sees the change within 1 s (${ms} ms)`, () => {
      assert.strictEqual(d.value, 'after');
      assert.ok(ms <= 1000);
    });
  }

  // roostd restarted on the same address: both providers reconnect.
  await stopRoostd();
  await sleep(300);
  await startRoostd(addr);
  for (const [mode, client] of [['rpc', rpc], ['in-process', inproc]]) {
    const until = Date.now() + 15000;
    let d;
    do {
      d = await client.getStringDetails('of-change-flag', 'fallback', {});
      if (d.value === 'after' && d.reason !== 'ERROR' && mode === 'in-process') break;
      if (d.value === 'after' && d.reason !== 'ERROR' && mode === 'rpc') break;
      await sleep(100);
    } while (Date.now() < until);
    check(`${mode}: serves again after roostd restarts`, () => assert.strictEqual(d.value, 'after'));
  }
  if (process.env.ROOST_DEBUG) console.log(roostctl(addr, 'status'));
  // And a change made after the restart still reaches them.
  const changed2 = Promise.all([nextChange(rpc), nextChange(inproc)]);
  writeChange('after-restart');
  roostctl(addr, 'apply', '-f', changeDoc);
  const events2 = await Promise.race([changed2, sleep(10000).then(() => null)]);
  check('providers receive changes made after the restart', () => assert.ok(events2, 'no event within 10 s'));
  for (const [mode, client] of [['rpc', rpc], ['in-process', inproc]]) {
    const d = await evalUntil(client, 'of-change-flag', 'after-restart', 2000);
    check(`${mode}: sees the change made after the restart`, () => assert.strictEqual(d.value, 'after-restart'));
  }
}

main()
  .catch((e) => {
    failed++;
    console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  })
  .finally(async () => {
    await Promise.race([OpenFeature.close(), sleep(3000)]);
    await stopRoostd();
    console.log(`${passed} passed, ${failed} failed`);
    process.exit(failed ? 1 : 0);
  });
