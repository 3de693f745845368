// SPDX-License-Identifier: MIT
/*
 * dashboard/chromium — the dashboard in headless Chromium (Debian
 * `chromium`, driven by npm `playwright-core`) while `cairn sim` plays.
 * Run twice, against each process that serves the dashboard: first
 * `cairn hunt --brokers --http` (the worker, which serves the dashboard,
 * /api/stats, /api/events, /api/leaderboard, /api/beacons) beside
 * `cairn logd` and `cairn gateway --brokers`; then `cairn up` (all in one
 * process, dashboard and /ws on one port).  Each time `cairn sim` plays.
 * Checks: the page loads from the binary with no request leaving the
 * server, draws the hunt's 12 beacons, goes live over Server-Sent Events;
 * once the simulation runs, pings/s becomes positive and the pings counter
 * keeps growing between two reads, the leaderboard fills (its first row is
 * in the API's top 10 at that moment), recent finds appear and light
 * beacons on the map; a page forced to poll /api/stats (?transport=poll,
 * the fallback when no stream can be opened) updates too; on a phone-sized
 * viewport nothing overflows horizontally.  Screenshots:
 * $CAIRN_BUILD/dashboard-{hunt,up}.png and dashboard-{hunt,up}-phone.png.
 * The sim exits 0 (every ping acked); every server drains on SIGTERM with
 * exit 0.
 * Needs `npm ci --prefix tests/node` and `chromium` (scripts/setup).
 */
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const { spawn } = require('child_process');

let chromium;
try {
  ({ chromium } = require(path.join(__dirname, '..', '..', 'node', 'node_modules', 'playwright-core')));
} catch (e) {
  console.error('dashboard/chromium: playwright-core is not installed; run npm ci --prefix tests/node');
  process.exit(1);
}
if (!fs.existsSync('/usr/bin/chromium')) {
  console.error('dashboard/chromium: /usr/bin/chromium is missing; run scripts/setup');
  process.exit(1);
}

const BIN = process.env.CAIRN_BIN || path.join(__dirname, '..', '..', '..', 'build', 'cairn');
const SRC = process.env.CAIRN_SRC || path.join(__dirname, '..', '..', '..');
const OUT = process.env.CAIRN_BUILD || path.dirname(BIN);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-dash-'));
const procs = [];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fails = [];
const T0 = Date.now();
const phase = (what) => console.log(((Date.now() - T0) / 1000).toFixed(1) + 's ' + what);
function check(cond, what) {
  if (!cond) {
    fails.push(what);
    console.log('FAIL: ' + what);
  }
}

async function start(name, args) {
  const pf = path.join(tmp, name + '.port');
  const log = fs.openSync(path.join(tmp, name + '.log'), 'a');
  const proc = spawn(BIN, [...args, '--port-file', pf], { stdio: ['ignore', log, log] });
  const p = { name, proc, exit: new Promise((r) => proc.on('exit', (code) => r(code))) };
  procs.push(p);
  for (let i = 0; i < 600; i++) {
    if (fs.existsSync(pf)) {
      p.port = parseInt(fs.readFileSync(pf, 'utf8'), 10);
      return p;
    }
    if (proc.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(name + ' did not start: ' + fs.readFileSync(path.join(tmp, name + '.log'), 'utf8'));
}

async function stop(p) {
  p.proc.kill('SIGTERM');
  const code = await Promise.race([p.exit, sleep(30000).then(() => 'timeout')]);
  check(code === 0, p.name + ' exits 0 after SIGTERM (got ' + code + ')');
}

async function until(what, fn, ms) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      check(false, 'timed out waiting for ' + what);
      return null;
    }
    await sleep(200);
  }
}

// The page checks, against whichever process serves it: base is its HTTP
// origin, wsPort the gateway port the simulation plays through, tag names
// the screenshots.
async function exercise(browser, base, wsPort, tag) {
  const shot = (name) => path.join(OUT, name.replace('dashboard', 'dashboard-' + tag));
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const foreign = [], errors = [];
  page.on('request', (r) => { if (!r.url().startsWith(base + '/')) foreign.push(r.url()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const resp = await page.goto(base + '/', { waitUntil: 'load' });
  check(resp && resp.status() === 200, 'GET / is 200');
  await until('12 beacons on the map', async () => (await page.locator('#map [data-beacon]').count()) === 12, 15000);
  await until('the event stream to go live', async () => (await page.textContent('#status')) === 'live', 15000);
  check(await page.isVisible('#leaderboard-empty'), 'empty leaderboard says so before the simulation');

  phase('page live');
  // The simulation must outlast the desktop and polling checks, which wait
  // for the numbers to move: 14 s ran out before the polling page was
  // checked when the machine was loaded.
  const sim = spawn(BIN, ['sim', '--url', 'ws://127.0.0.1:' + wsPort + '/ws', '--players', '60',
    '--duration', '30s', '--seed', '6'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let simOut = '';
  sim.stdout.on('data', (d) => { simOut += d; });
  const simExit = new Promise((r) => sim.on('exit', (code) => r(code)));

  const pps = await until('pings/s > 0', async () => {
    const v = parseFloat(await page.getAttribute('#pings-per-s', 'data-value'));
    return v > 0 ? v : null;
  }, 20000);
  const total1 = parseInt(await page.getAttribute('#pings-total', 'data-value'), 10);
  await sleep(2500);
  const total2 = parseInt(await page.getAttribute('#pings-total', 'data-value'), 10);
  check(total2 > total1, 'pings counter updates live (' + total1 + ' → ' + total2 + ')');
  const rows = await until('leaderboard rows with points', async () => {
    const n = await page.locator('#leaderboard tbody tr').count();
    const top = n ? await page.textContent('#leaderboard tbody tr:first-child td.score') : '0';
    return n >= 3 && parseInt(top, 10) > 0 ? n : null;
  }, 25000);
  const first = await page.getAttribute('#leaderboard tbody tr:first-child', 'data-player');
  const api = await (await fetch(base + '/api/leaderboard?limit=10')).json();
  check(api.some((r) => r.player === first), 'the page\'s leader ' + first + ' is in /api/leaderboard');
  check(rows <= 10, 'at most 10 leaderboard rows');
  await until('recent finds listed', async () => (await page.locator('#finds li').count()) > 0, 15000);
  await until('a found beacon lit on the map', async () => (await page.locator('#map .beacon.hot').count()) > 0,
    15000);
  await page.screenshot({ path: shot('dashboard.png'), fullPage: true });
  phase('desktop checks done');

  // The polling fallback (what the page does when no event stream can be opened).
  const poll = await browser.newPage({ viewport: { width: 1024, height: 768 } });
  poll.on('pageerror', (e) => errors.push(String(e)));
  await poll.goto(base + '/?transport=poll', { waitUntil: 'load' });
  await until('the polling page to show numbers', async () =>
    (await poll.getAttribute('#pings-total', 'data-value')) !== null, 15000);
  check((await poll.textContent('#status')) === 'polling', 'the ?transport=poll page says polling');
  const p1 = parseInt(await poll.getAttribute('#pings-total', 'data-value'), 10);
  await until('the polling page to update', async () =>
    parseInt(await poll.getAttribute('#pings-total', 'data-value'), 10) > p1, 10000);
  await poll.close();
  phase('polling checks done');

  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
  await phone.goto(base + '/', { waitUntil: 'load' });
  await until('the phone page to show numbers', async () =>
    (await phone.getAttribute('#pings-total', 'data-value')) !== null, 15000);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'nothing overflows a 390 px phone screen (overflow ' + overflow + ' px)');
  await phone.screenshot({ path: shot('dashboard-phone.png'), fullPage: true });

  phase('phone checks done');
  const code = await Promise.race([simExit, sleep(45000).then(() => 'timeout')]);
  check(code === 0, 'cairn sim exits 0: ' + simOut);
  check(foreign.length === 0, 'no request leaves the server: ' + foreign.join(' '));
  check(errors.length === 0, 'no page errors: ' + errors.join(' | '));
  console.log(tag + ': pings/s seen ' + pps + ', leaderboard rows ' + rows + ', screenshots in ' + OUT);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  phase('chromium up');
  try {
    // 1. cairn hunt --http serves the dashboard, beside logd and a gateway
    const logd = await start('logd', ['logd', '--data', path.join(tmp, 'data'), '--kafka-listen', '127.0.0.1:0']);
    const brokers = '127.0.0.1:' + logd.port;
    const gw = await start('gateway', ['gateway', '--brokers', brokers, '--listen', '127.0.0.1:0']);
    const hunt = await start('hunt', ['hunt', '--brokers', brokers, '--state', path.join(tmp, 'state'),
      '--hunt', path.join(SRC, 'hunt', 'sample-hunt.json'), '--http', '127.0.0.1:0']);
    phase('hunt servers up');
    await exercise(browser, 'http://127.0.0.1:' + hunt.port, gw.port, 'hunt');
    await stop(hunt);
    await stop(gw);
    await stop(logd);
    phase('hunt servers stopped');
    // 2. cairn up: one process, the dashboard on the same port as /ws
    const up = await start('up', ['up', '--data', path.join(tmp, 'up-data'), '--http', '127.0.0.1:0',
      '--kafka', '127.0.0.1:0']);
    phase('cairn up up');
    await exercise(browser, 'http://127.0.0.1:' + up.port, up.port, 'up');
    await stop(up);
    phase('cairn up stopped');
  } finally {
    await browser.close();
  }
}

main().then(() => {
  if (fails.length) {
    console.log(fails.length + ' failures');
    process.exit(1);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('ok');
  process.exit(0); // the timeout timers of Promise.race would keep node alive
}, (e) => {
  console.log('FAIL: ' + (e && e.stack ? e.stack : e));
  for (const p of procs) if (p.proc.exitCode === null) p.proc.kill('SIGKILL');
  process.exit(1);
});
