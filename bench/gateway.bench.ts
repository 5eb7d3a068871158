/**
 * npm run bench:gateway — the gateway path, each figure beside a baseline measured in the same run:
 * 1. cached verification in the client library, per second, against a bare sha256 + Map loop;
 * 2. POST /v1/keys/verify over HTTP (autocannon, 64 connections) against a bare hello route on the
 *    same HTTP stack (bench/hello-server.ts; a plain Fastify hello route is printed too), with the
 *    server's CPU time per request beside each rate; then the verify route again on a service with
 *    tracing on (spans exported to a local OTLP/HTTP sink), against the run without;
 * 3. revocation propagation, from the regenerate or delete HTTP response to the gateway client
 *    denying the old secret, via the stream (SSE) and via Kafka (a real broker: the npm script
 *    starts one with scripts/kafka.sh unless KAFKA_BROKERS is set).
 * 4. rate limits and quotas (bench/gateway-limits.ts): an in-process limit against none, the latency a
 *    Redis-counted limit adds (Redis from scripts/redis.sh when installed), a quota's overshoot through
 *    two gateways at full speed. BENCH_ONLY=limits runs only this section.
 * BENCH_SECONDS (default 10) sets each HTTP run; BENCH_REVOCATIONS (default 600) the propagation count.
 * BENCH_TLS=1 also measures 2. over HTTPS: a second service with TLS_CERT_FILE/TLS_KEY_FILE (a P-256
 * certificate that openssl makes in .bench-data), printed beside the plain figure. autocannon keeps
 * its connections open, so this is the cost of TLS on requests, not of handshakes.
 */
import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Pool } from 'undici';
import { GatewayClient, Revocation } from '@lib/gateway-client';
import { LimitsContext, measureLimits } from './gateway-limits';
import { ROOT, WORK, benchToken, percentile, startServiceProcess, stopProcess } from './support';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS ?? 600);
const KEYS = '/v2/gen-ai/models/api_keys';
const KAFKA_BROKERS = process.env.KAFKA_BROKERS;
const WITH_TLS = process.env.BENCH_TLS === '1';
/** BENCH_ONLY=limits: only section 4 (rate limits and quotas), on one service. */
const LIMITS_ONLY = process.env.BENCH_ONLY === 'limits';

/** A self-signed P-256 certificate for 127.0.0.1, made with openssl: nothing private is committed. */
function makeCertificate(dir: string): { cert: string; key: string } {
  fs.mkdirSync(dir, { recursive: true });
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=bench', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { cert, key };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** CPU time (user + system, ms) the process has used so far, from /proc (Linux): 10 ms ticks. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** An OTLP/HTTP sink for the traced run: reads each batch and answers 200 as a collector does; counts spans. */
async function startOtlpSink(): Promise<{ url: string; spans: () => number; close: () => Promise<void> }> {
  let spans = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      spans += (Buffer.concat(chunks).toString('utf8').match(/"spanId"/g) ?? []).length;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans: () => spans, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Runs `body` over the inputs in a loop for `ms`; returns operations per second. */
function loopRate(ms: number, body: (i: number) => unknown): { perSecond: number } {
  let n = 0;
  let sink = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++, n++) if (body(n) !== undefined) sink++;
  }
  if (sink < 0) console.log(sink);
  return { perSecond: n / (ms / 1000) };
}

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const topic = `bench-revocations-${randomUUID()}`;
  const { origin, child } = await startServiceProcess(path.join(WORK, 'service'), {
    REVOCATION_HEARTBEAT_MS: '500',
    ...(KAFKA_BROKERS ? { KAFKA_BROKERS, KAFKA_REVOCATIONS_TOPIC: topic } : {}),
  });
  const owner = benchToken('bench', 'u1', 'owner');
  const gatewayToken = benchToken('platform', 'gw', 'gateway');
  const pool = new Pool(origin, { connections: 16 });
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: object) => {
    const response = await pool.request({
      method,
      path: url,
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`${method} ${url}: ${response.statusCode} ${text}`);
    return JSON.parse(text);
  };
  const createKeys = async (n: number, limits?: object) => {
    const keys: Array<{ uuid: string; secret_key: string }> = [];
    for (let i = 0; i < n; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, n - i) }, (_, j) => call('POST', KEYS, { name: `bench-${i + j}`, ...(limits ? { limits } : {}) })));
      keys.push(...batch.map((b) => b.api_key_info));
    }
    return keys;
  };
  const limitsContext: LimitsContext = { origin, gatewayToken, createKeys, get: (url) => call('GET', url) };
  if (LIMITS_ONLY) {
    const lines = await measureLimits(limitsContext);
    await pool.close();
    await stopProcess(child);
    console.log(`bench:gateway (BENCH_ONLY=limits)  ${new Date().toISOString()}  node ${process.version}`);
    console.log('');
    for (const line of lines) console.log(line);
    fs.rmSync(WORK, { recursive: true, force: true });
    return;
  }

  // 1. Cached verification in the client library.
  console.error('1/4 cached verification in the client library...');
  const streamClient = new GatewayClient({ serviceUrl: origin, token: gatewayToken, feed: { kind: 'stream' }, maxFeedSilenceMs: 60_000 });
  await streamClient.start();
  await streamClient.waitUntilFresh();
  const cachedKeys = await createKeys(1000);
  const secrets = cachedKeys.map((k) => k.secret_key);
  for (const secret of secrets) await streamClient.verify(secret, { model: 'llama3-8b-instruct' });
  const bare = new Map(secrets.map((s) => [sha256(s), { valid: true }]));
  // Alternating 250 ms slices for 10 s: the machine's drift falls on both sides alike.
  let baselineOps = 0;
  let clientOps = 0;
  for (let slice = 0; slice < 20; slice++) {
    baselineOps += loopRate(250, (i) => bare.get(sha256(secrets[i % secrets.length]))).perSecond / 4;
    clientOps += loopRate(250, (i) => streamClient.verifyCached(secrets[i % secrets.length], { model: 'llama3-8b-instruct' })).perSecond / 4;
  }
  const cachedMissed = secrets.filter((s) => streamClient.verifyCached(s, { model: 'llama3-8b-instruct' })?.valid !== true).length;
  if (cachedMissed > 0) throw new Error(`${cachedMissed} secrets were not answered from the cache`);

  // 2. HTTP verification against a bare hello route on the same stack.
  console.error(`2/4 HTTP: hello route, then POST /v1/keys/verify, ${SECONDS} s each at 64 connections...`);
  const hello = spawn(process.execPath, [path.join(ROOT, 'dist/bench/hello-server.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const helloPort = await new Promise<number>((resolve) => hello.stdout!.once('data', (d) => resolve(Number(String(d).split(' ')[1]))));
  await waitForHelloReady(`http://127.0.0.1:${helloPort}`);
  const verifyBody = JSON.stringify({ key: secrets[0], model: 'llama3-8b-instruct' });
  const run = (url: string, headers: Record<string, string>) =>
    autocannon({ url, connections: 64, duration: SECONDS, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: verifyBody });
  // Each measured run also reports the server's CPU time per request: a figure the other tenants of a
  // shared machine disturb far less than the request rate.
  const measured = async (pid: number, url: string, headers: Record<string, string>) => {
    const before = cpuMs(pid);
    const result = await run(url, headers);
    return { result, cpuUsPerRequest: ((cpuMs(pid) - before) * 1000) / result.requests.total };
  };
  await run(`http://127.0.0.1:${helloPort}/hello`, {}); // warm-up of the same length
  const { result: helloResult, cpuUsPerRequest: helloCpu } = await measured(hello.pid!, `http://127.0.0.1:${helloPort}/hello`, {});
  const rawHelloResult = await run(`http://127.0.0.1:${helloPort}/hello-raw`, {});
  await run(`${origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
  const { result: verifyResult, cpuUsPerRequest: verifyCpu } = await measured(child.pid!, `${origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
  await stopProcess(hello);
  let tlsResult: autocannon.Result | null = null;
  if (WITH_TLS) {
    console.error(`2/4 (TLS) POST /v1/keys/verify over HTTPS, ${SECONDS} s at 64 connections...`);
    const { cert, key } = makeCertificate(path.join(WORK, 'tls'));
    // The same DATA_DIR (the same keys, so the same verification work); this process only reads.
    const tlsService = await startServiceProcess(path.join(WORK, 'service'), { TLS_CERT_FILE: cert, TLS_KEY_FILE: key }, { ca: fs.readFileSync(cert) });
    await run(`${tlsService.origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
    tlsResult = await run(`${tlsService.origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
    await stopProcess(tlsService.child);
    if (tlsResult.non2xx > 0 || tlsResult.errors > 0) throw new Error(`TLS verify run had ${tlsResult.non2xx} non-2xx and ${tlsResult.errors} errors`);
  }
  if (verifyResult.non2xx > 0 || verifyResult.errors > 0) throw new Error(`verify run had ${verifyResult.non2xx} non-2xx and ${verifyResult.errors} errors`);

  // The same verify route on a service that exports a span for every request (OTEL_EXPORTER_OTLP_ENDPOINT).
  console.error(`   ... and POST /v1/keys/verify with tracing on, ${SECONDS} s after a warm-up run`);
  const sink = await startOtlpSink();
  const traced = await startServiceProcess(path.join(WORK, 'service-traced'), { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_BSP_SCHEDULE_DELAY: '1000' });
  const tracedKey = await fetch(`${traced.origin}${KEYS}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-traced' }),
  }).then((r) => r.json() as Promise<{ api_key_info: { secret_key: string } }>);
  const tracedRun = (url: string, headers: Record<string, string>) =>
    autocannon({ url, connections: 64, duration: SECONDS, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ key: tracedKey.api_key_info.secret_key, model: 'llama3-8b-instruct' }) });
  await tracedRun(`${traced.origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
  const tracedBefore = cpuMs(traced.child.pid!);
  const tracedResult = await tracedRun(`${traced.origin}/v1/keys/verify`, { authorization: `Bearer ${gatewayToken}` });
  const tracedCpu = ((cpuMs(traced.child.pid!) - tracedBefore) * 1000) / tracedResult.requests.total;
  await stopProcess(traced.child);
  const exportedSpans = sink.spans();
  await sink.close();
  if (tracedResult.non2xx > 0 || tracedResult.errors > 0) throw new Error(`traced verify run had ${tracedResult.non2xx} non-2xx and ${tracedResult.errors} errors`);
  if (exportedSpans < tracedResult.requests.total) throw new Error(`the traced run exported ${exportedSpans} spans for ${tracedResult.requests.total} requests`);

  // 3. Propagation, via the stream and via Kafka.
  console.error(`3/4 propagation of ${REVOCATIONS} revocations (stream${KAFKA_BROKERS ? ' and Kafka' : ''})...`);
  const kafkaClient = KAFKA_BROKERS
    ? new GatewayClient({
        serviceUrl: origin,
        token: gatewayToken,
        feed: { kind: 'kafka', brokers: KAFKA_BROKERS.split(','), topic, groupId: `bench-${topic}` },
        maxFeedSilenceMs: 60_000,
      })
    : null;
  if (kafkaClient) {
    await kafkaClient.start();
    await kafkaClient.waitUntilFresh(60_000);
  }
  const clients: Array<[string, GatewayClient]> = [['stream', streamClient], ...(kafkaClient ? [['kafka', kafkaClient] as [string, GatewayClient]] : [])];
  const revokedAt = new Map<string, Map<string, number>>(clients.map(([name]) => [name, new Map()]));
  for (const [name, client] of clients) {
    client.on('revocation', (revocation: Revocation) => {
      const now = performance.now();
      for (const hash of revocation.secret_hashes) revokedAt.get(name)!.set(hash, now);
    });
  }
  const victims = await createKeys(REVOCATIONS);
  for (const key of victims) for (const [, client] of clients) await client.verify(key.secret_key);
  const answeredAt = new Map<string, number>();
  for (let i = 0; i < victims.length; i++) {
    const key = victims[i];
    if (i % 2 === 0) await call('PUT', `${KEYS}/${key.uuid}/regenerate`);
    else await call('DELETE', `${KEYS}/${key.uuid}`);
    answeredAt.set(sha256(key.secret_key), performance.now());
  }
  const propagation: Record<string, number[]> = {};
  for (const [name, client] of clients) {
    const deadline = Date.now() + 30_000;
    while ([...answeredAt.keys()].some((h) => !revokedAt.get(name)!.has(h)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const missing = [...answeredAt.keys()].filter((h) => !revokedAt.get(name)!.has(h)).length;
    if (missing > 0) throw new Error(`${name}: ${missing} revocations never reached the client`);
    const stillCached = victims.filter((k) => client.verifyCached(k.secret_key)?.valid === true).length;
    if (stillCached > 0) throw new Error(`${name}: ${stillCached} revoked secrets still answered VALID from the cache`);
    // A revocation that reached the client before the caller had its answer counts as 0.
    propagation[name] = [...answeredAt.entries()].map(([h, t]) => Math.max(0, revokedAt.get(name)!.get(h)! - t)).sort((a, b) => a - b);
  }

  await streamClient.stop();
  await kafkaClient?.stop();
  const limitLines = await measureLimits(limitsContext);
  await pool.close();
  await stopProcess(child);

  const cachedRate = clientOps / 5;
  const bareRate = baselineOps / 5;
  const helloRps = helloResult.requests.average;
  const verifyRps = verifyResult.requests.average;
  console.log(`bench:gateway  ${new Date().toISOString()}  node ${process.version}`);
  console.log('');
  console.log('1. cached verification in the client library (1000 keys, 20 alternating 250 ms slices each)');
  console.log(`   client verifyCached:      ${cachedRate.toFixed(0).padStart(10)} /s`);
  console.log(`   baseline sha256 + Map:    ${bareRate.toFixed(0).padStart(10)} /s`);
  console.log(`   ratio ${(cachedRate / bareRate).toFixed(2)} (target >= 0.7: ${cachedRate / bareRate >= 0.7 ? 'met' : 'NOT met'})`);
  console.log('');
  console.log(`2. HTTP, autocannon, 64 connections, ${SECONDS} s each after a warm-up run`);
  console.log(`   POST /v1/keys/verify:     ${verifyRps.toFixed(0).padStart(10)} req/s  p50 ${verifyResult.latency.p50} ms  p99 ${verifyResult.latency.p99} ms`);
  console.log(`   baseline hello route:     ${helloRps.toFixed(0).padStart(10)} req/s  p50 ${helloResult.latency.p50} ms  p99 ${helloResult.latency.p99} ms`);
  console.log(
    `   plain Fastify hello:      ${rawHelloResult.requests.average.toFixed(0).padStart(10)} req/s  p50 ${rawHelloResult.latency.p50} ms  p99 ${rawHelloResult.latency.p99} ms` +
      '  (the floor of this machine and load generator)',
  );
  if (tlsResult !== null) {
    console.log(
      `   POST /v1/keys/verify TLS: ${tlsResult.requests.average.toFixed(0).padStart(10)} req/s  p50 ${tlsResult.latency.p50} ms  p99 ${tlsResult.latency.p99} ms` +
        `  (HTTPS, TLS 1.3, P-256; ${(tlsResult.requests.average / verifyRps).toFixed(2)} of plain HTTP)`,
    );
  }
  const httpMet = verifyRps / helloRps >= 0.6 && verifyResult.latency.p99 <= 10;
  console.log(`   ratio ${(verifyRps / helloRps).toFixed(2)} (target >= 0.6 with p99 <= 10 ms: ${httpMet ? 'met' : 'NOT met'})`);
  console.log(`   server CPU per request:   verify ${verifyCpu.toFixed(1)} us, hello ${helloCpu.toFixed(1)} us: ratio ${(helloCpu / verifyCpu).toFixed(2)} (hello / verify)`);
  console.log(
    `   verify, tracing on:       ${tracedResult.requests.average.toFixed(0).padStart(10)} req/s  p50 ${tracedResult.latency.p50} ms  p99 ${tracedResult.latency.p99} ms` +
      `  CPU ${tracedCpu.toFixed(1)} us/request (${exportedSpans} spans exported)`,
  );
  console.log(`   tracing on / off:         ${(tracedResult.requests.average / verifyRps).toFixed(2)} of the rate, ${(tracedCpu / verifyCpu).toFixed(2)} x the CPU per request`);
  console.log('');
  console.log(`3. revocation propagation, HTTP response -> client denies the old secret, ${REVOCATIONS} revocations (half regenerate, half delete)`);
  for (const [name, values] of Object.entries(propagation)) {
    const target = name === 'kafka' ? 100 : 25;
    const p99 = percentile(values, 99);
    console.log(
      `   via ${name.padEnd(7)} p50 ${percentile(values, 50).toFixed(2)} ms  p99 ${p99.toFixed(2)} ms  max ${values[values.length - 1].toFixed(2)} ms` +
        `  (target p99 <= ${target} ms: ${p99 <= target ? 'met' : 'NOT met'})`,
    );
  }
  if (!KAFKA_BROKERS) console.log('   via kafka: not measured (KAFKA_BROKERS unset; `npm run bench:gateway` starts a broker)');
  console.log('');
  for (const line of limitLines) console.log(line);
  fs.rmSync(WORK, { recursive: true, force: true });
}

async function waitForHelloReady(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
