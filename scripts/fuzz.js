#!/usr/bin/env node
// The fuzz run behind npm run test:fuzz (scripts/fuzz.sh builds and installs Schemathesis first):
// starts a provider stand-in and the built service on 127.0.0.1 with a temporary DATA_DIR, then runs
// Schemathesis against /openapi.json twice, once with an owner token and once with a gateway token,
// and stops both. Plain Node (no build step, no Jest): `node scripts/fuzz.js path/to/st`.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/apps/key-service/src/main.js');
const KEYCTL = path.join(ROOT, 'dist/apps/key-service/src/cli/keyctl.js');
const CONFIG = path.join(__dirname, 'schemathesis.toml');
const HOOKS = path.join(__dirname, 'fuzz_hooks.py');
/** The tokens' team: Gcore's project_id must name it (another project is a 404). */
const TEAM = 'team-fuzz';
const REPORTS = path.join(ROOT, '.ci-cache/fuzz-report');
const st = process.argv[2];

// The bound: at most 5 minutes of fuzzing in all. Most routes are the management API (the owner
// run); with the gateway token they answer 403, and only verification and the feed are explored.
const RUNS = [
  { name: 'owner', role: 'owner', seconds: Number(process.env.FUZZ_OWNER_SECONDS ?? 180) },
  { name: 'gateway', role: 'gateway', seconds: Number(process.env.FUZZ_GATEWAY_SECONDS ?? 90) },
];
if (RUNS.reduce((sum, run) => sum + run.seconds, 0) > 300) throw new Error('the fuzz runs may take 300 s in all');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Anthropic's and OpenAI's `GET /v1/models`, accepting every key: the real APIs cannot be reached from
 * here and must not see fuzzed keys, and a stand-in that says yes lets the fuzzer create, read, rename
 * and delete provider keys instead of stopping at the verification.
 */
function startProviderStandIn() {
  const server = http.createServer((request, response) => {
    const ok = request.method === 'GET' && request.url === '/v1/models';
    response.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' });
    response.end(JSON.stringify(ok ? { object: 'list', data: [{ id: 'fuzz-model', type: 'model', object: 'model' }], has_more: false } : { error: 'not found' }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function waitForHealth(child, baseUrl, output) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}:\n${output()}`);
    try {
      if ((await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the service did not start:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The Schemathesis process running now, to stop if this script is interrupted. */
let schemathesis = null;
/** Each finished run's test-case counts, for the closing line. */
const totals = [];

function runSchemathesis(run, baseUrl, token) {
  const reportDir = path.join(REPORTS, run.name);
  fs.rmSync(reportDir, { recursive: true, force: true });
  fs.mkdirSync(reportDir, { recursive: true });
  const args = [
    '--config-file', CONFIG,
    'run', `${baseUrl}/openapi.json`,
    '--checks', 'all',
    '--phases', 'examples,coverage,fuzzing,stateful',
    '--max-time', String(run.seconds),
    '--workers', '2',
    '--report', 'junit,ndjson',
    '--report-dir', reportDir,
    '--no-color',
  ];
  console.log(`\n== schemathesis with a ${run.role} token, ${run.seconds} s (reports in ${path.relative(ROOT, reportDir)})`);
  // Asynchronously: the provider stand-in answers from this process's event loop meanwhile.
  const env = {
    ...process.env,
    FUZZ_TOKEN: token,
    FUZZ_TEAM: TEAM,
    SCHEMATHESIS_HOOKS: HOOKS,
    // Hypothesis's own files (its example database, Unicode tables) in the ignored cache, not in the work tree.
    HYPOTHESIS_STORAGE_DIRECTORY: path.join(ROOT, '.ci-cache/hypothesis'),
  };
  const child = spawn(st, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env });
  schemathesis = child;
  const timer = setTimeout(() => child.kill('SIGTERM'), (run.seconds + 120) * 1000);
  // Schemathesis's output is passed through as it comes, and kept whole in the report folder. Its
  // closing banner ("==== 3 warnings in 180.03s ====") has the shape of pytest's summary line for a run
  // that executed no test, and CI's log reader takes it for one: that one line is replaced by the counts
  // of the "Test cases:" block (generated, passed, failed, skipped), which is what it summarises.
  const consoleLog = fs.createWriteStream(path.join(reportDir, 'console.txt'));
  const counts = { generated: 0, passed: 0, failed: 0, skipped: 0 };
  let pending = '';
  let afterTestCases = false;
  const onLine = (line) => {
    consoleLog.write(`${line}\n`);
    if (afterTestCases) {
      for (const [, n, what] of line.matchAll(/(\d+) (generated|passed|failed|skipped)/g)) counts[what] = Number(n);
      afterTestCases = false;
    }
    if (/^\s*Test cases:\s*$/.test(line)) afterTestCases = true;
    const banner = /^=+ (.* in ([\d.]+)s) =+$/.exec(line);
    if (banner && !/SUMMARY|WARNINGS|FAILURES|ERRORS/.test(banner[1])) {
      const { generated, passed, failed, skipped } = counts;
      process.stdout.write(`schemathesis (${run.role} token): ${generated} test cases generated, ${passed} passed, ${failed} failed, ${skipped} skipped in ${banner[2]} s\n`);
      return;
    }
    process.stdout.write(`${line}\n`);
  };
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop();
    lines.forEach(onLine);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (pending) onLine(pending);
      consoleLog.end();
      totals.push({ role: run.role, ...counts });
      resolve(code ?? `${signal}`);
    });
  });
}

async function main() {
  if (!st || !fs.existsSync(st)) throw new Error('usage: node scripts/fuzz.js path/to/st (npm run test:fuzz installs it)');
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'key-service-fuzz-'));
  const provider = await startProviderStandIn();
  const providerUrl = `http://127.0.0.1:${provider.address().port}`;
  const port = await freePort();
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    GRPC_PORT: String(await freePort()),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    NO_COLOR: '1',
    ANTHROPIC_API_BASE_URL: providerUrl,
    OPENAI_API_BASE_URL: providerUrl,
  };
  delete env.DATABASE_URL;
  delete env.EVENT_STORE;
  delete env.KAFKA_BROKERS;
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((resolve) => provider.close(resolve));
  };
  // Interrupted (Ctrl-C, CI's timeout): the service and the stand-in stop too.
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      schemathesis?.kill('SIGTERM');
      child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
      process.exit(1);
    });
  }
  const failed = [];
  try {
    await waitForHealth(child, baseUrl, () => log);
    for (const run of RUNS) {
      const token = spawnSync(process.execPath, [KEYCTL, 'token', '--team', TEAM, '--user', '100', '--role', run.role, '--ttl', '3600'], {
        env,
        encoding: 'utf8',
      });
      if (token.status !== 0) throw new Error(`keyctl token failed: ${token.stderr}`);
      const status = await runSchemathesis(run, baseUrl, token.stdout.trim());
      if (status !== 0) failed.push(`${run.name} (exit ${status})`);
      if (child.exitCode !== null || child.signalCode !== null) {
        failed.push(`the service exited during the ${run.name} run (${child.exitCode ?? child.signalCode})`);
        break;
      }
    }
  } finally {
    const crashed = child.exitCode !== null || child.signalCode !== null;
    await stop();
    if (crashed || failed.length > 0) {
      const tail = log.split('\n').slice(-60).join('\n');
      if (tail.trim()) console.log(`\n== the service's last log lines\n${tail}`);
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  if (failed.length > 0) {
    console.error(`\ntest:fuzz failed: ${failed.join('; ')}`);
    process.exit(1);
  }
  const passed = totals.reduce((sum, t) => sum + t.passed, 0);
  if (passed === 0) {
    console.error('\ntest:fuzz failed: Schemathesis reported no passed test case');
    process.exit(1);
  }
  const byRole = totals.map((t) => `${t.role} ${t.passed}`).join(', ');
  console.log(`\ntest:fuzz: ${passed} test cases passed (${byRole}), 0 failed: no server errors, no failed checks`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
