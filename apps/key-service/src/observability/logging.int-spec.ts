import { Logger } from '@nestjs/common';
import Fastify, { FastifyInstance } from 'fastify';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { createAppLogger, LogFormat, LogLevelName } from './logging';
import { logRequests } from './logging.http';

function capture(): { stream: Writable; lines: string[]; json: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter((line) => line !== ''));
      done();
    },
  });
  return { stream, lines, json: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

function loggerOn(level: LogLevelName, format: LogFormat = 'json') {
  const out = capture();
  return { ...out, logger: createAppLogger({ level, format, destination: out.stream }) };
}

describe('the service logger (pino behind Nest)', () => {
  describe('over HTTP (logRequests on a real Fastify server)', () => {
    let app: FastifyInstance;
    let base: string;
    const out = loggerOn('debug');
    beforeAll(async () => {
      Logger.overrideLogger(out.logger);
      app = Fastify({ genReqId: (request) => String(request.headers['x-request-id'] ?? 'generated') });
      logRequests(app, out.logger.pino);
      app.post('/things/:id', async (request) => {
        (request as { principal?: unknown }).principal = { teamId: 'team-9', userId: 'u-9', role: 'owner' };
        await new Promise((r) => setTimeout(r, 5)); // across an asynchronous boundary, after the body was read
        new Logger('Errors').error('Error: boom\n    at handler (x.ts:1:1)', undefined, 'Errors');
        return { ok: true };
      });
      app.get('/fails', async () => {
        throw new Error('kaput');
      });
      // An answer streamed slowly, and one that takes its time: clients that leave before their end.
      app.get('/stream', async (_request, reply) => {
        const body = new PassThrough();
        body.write('data: first\n\n');
        const timer = setTimeout(() => body.end('data: last\n\n'), 2000);
        body.once('close', () => clearTimeout(timer));
        return reply.header('content-type', 'text/event-stream').send(body);
      });
      app.get('/slow', async () => {
        await new Promise((r) => setTimeout(r, 300));
        return { ok: true };
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    afterAll(() => app.close());

    it('one line per request: method, route template, status, duration, request id, team and user; never the body, query or headers', async () => {
      const answer = await fetch(`${base}/things/abc-123?token=hunter2`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-42', authorization: 'Bearer sekrit-token' },
        body: JSON.stringify({ key: 'mak_the-secret-itself' }),
      });
      expect(answer.status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
      const lines = out.json();
      const request = lines.find((line) => line.route === '/things/:id');
      expect(request).toMatchObject({ level: 'info', method: 'POST', status: 200, request_id: 'req-42', team_id: 'team-9', user_id: 'u-9' });
      expect(request!.duration_ms).toBeGreaterThan(0);
      expect(request!.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      for (const needle of ['abc-123', 'hunter2', 'sekrit-token', 'mak_the-secret-itself', 'authorization']) {
        expect(out.lines.filter((line) => line.includes(needle))).toEqual([]);
      }
    });

    it('an error logged while a request with a body is served carries its request id', async () => {
      await fetch(`${base}/things/x`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'req-43' }, body: '{"a":1}' });
      await new Promise((r) => setTimeout(r, 20));
      const error = out.json().find((line) => line.level === 'error' && line.request_id === 'req-43');
      expect(error).toMatchObject({ context: 'Errors', msg: expect.stringContaining('boom') });
    });

    /** A GET whose client leaves once `leaveWhen` says so (after the first bytes of the answer, or after a delay). */
    const leaveEarly = (path: string, requestId: string, leaveWhen: 'first-bytes' | number) =>
      new Promise<void>((resolve) => {
        const request = http.get(`${base}${path}`, { headers: { 'x-request-id': requestId } }, (response) => {
          response.once('data', () => {
            if (leaveWhen === 'first-bytes') request.destroy();
          });
        });
        request.on('error', () => undefined);
        request.on('close', () => resolve());
        if (typeof leaveWhen === 'number') setTimeout(() => request.destroy(), leaveWhen);
      });

    it('a client that leaves a streamed answer early still gets one line, with status 499', async () => {
      await leaveEarly('/stream', 'req-45', 'first-bytes');
      await new Promise((r) => setTimeout(r, 50));
      const lines = out.json().filter((line) => line.request_id === 'req-45');
      expect(lines).toEqual([expect.objectContaining({ level: 'info', method: 'GET', route: '/stream', status: 499, msg: 'GET /stream 499' })]);
      expect(lines[0].duration_ms).toEqual(expect.any(Number));
    });

    it('a client that gives up before the answer gets one line with status 499, and none when the answer comes later', async () => {
      await leaveEarly('/slow', 'req-46', 50);
      await new Promise((r) => setTimeout(r, 400)); // past the handler's answer
      expect(out.json().filter((line) => line.request_id === 'req-46')).toEqual([expect.objectContaining({ route: '/slow', status: 499 })]);
    });

    it('an answer sent whole is one line, never a second one when the connection closes', async () => {
      await fetch(`${base}/slow`, { headers: { 'x-request-id': 'req-47' } });
      await new Promise((r) => setTimeout(r, 50));
      expect(out.json().filter((line) => line.request_id === 'req-47')).toEqual([expect.objectContaining({ status: 200 })]);
    });

    it('a 5xx is logged at error level', async () => {
      expect((await fetch(`${base}/fails`, { headers: { 'x-request-id': 'req-44' } })).status).toBe(500);
      await new Promise((r) => setTimeout(r, 20));
      expect(out.json().find((line) => line.route === '/fails')).toMatchObject({ level: 'error', status: 500, request_id: 'req-44' });
    });
  });

  it('adds the fields options.fields gives for a request (the gateway adds its key_uuid)', async () => {
    const out = loggerOn('log');
    const app = Fastify();
    logRequests(app, out.logger.pino, { fields: (request) => ({ key_uuid: `key-of-${request.method}` }) });
    app.get('/x', async () => ({}));
    await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    expect(out.json().find((line) => line.route === '/x')).toMatchObject({ status: 200, key_uuid: 'key-of-GET' });
  });

  it('maps LOG_LEVEL to pino: log is info, debug lets Nest verbose through, warn hides log', () => {
    const debug = loggerOn('debug');
    debug.logger.verbose('v', 'Ctx');
    debug.logger.debug('d', 'Ctx');
    expect(debug.json().map((line) => [line.level, line.msg, line.context])).toEqual([
      ['trace', 'v', 'Ctx'],
      ['debug', 'd', 'Ctx'],
    ]);
    const warn = loggerOn('warn');
    warn.logger.log('hidden', 'Ctx');
    warn.logger.debug('hidden', 'Ctx');
    warn.logger.warn('shown', 'Ctx');
    expect(warn.json().map((line) => line.msg)).toEqual(['shown']);
    const log = loggerOn('log');
    log.logger.log('shown');
    log.logger.debug('hidden');
    expect(log.json()).toEqual([expect.objectContaining({ level: 'info', msg: 'shown', service: 'key-service' })]);
  });

  it("keeps Nest's error(message, stack, context) contract and logs Error objects with their stack", () => {
    const out = loggerOn('log');
    out.logger.error('failed', 'Error: x\n    at f (a.ts:1:1)', 'Ctx');
    out.logger.error(new Error('thrown'), 'Ctx');
    out.logger.error('no context', 'Error: y\n    at g (b.ts:2:2)');
    const [first, second, third] = out.json();
    expect(third).toMatchObject({ msg: 'no context', stack: expect.stringContaining('at g') });
    expect(third.context).toBeUndefined();
    expect(first).toMatchObject({ level: 'error', msg: 'failed', context: 'Ctx', stack: expect.stringContaining('at f') });
    expect(second).toMatchObject({ level: 'error', msg: 'thrown', context: 'Ctx', err: expect.objectContaining({ message: 'thrown' }) });
  });

  it('redacts credentials should an object holding them be logged', () => {
    const out = loggerOn('log');
    out.logger.pino.info({ headers: { authorization: 'Bearer abc' }, secret_key: 'mak_x', nested: { api_key: 'sk-1' } }, 'careless');
    expect(out.lines.join('\n')).not.toMatch(/Bearer abc|mak_x|sk-1/);
    expect(out.json()[0]).toMatchObject({ headers: { authorization: '[redacted]' }, secret_key: '[redacted]' });
  });

  it('text format: one readable line with the UTC timestamp, the level, the context and the message', () => {
    const out = loggerOn('log', 'text');
    out.logger.log('hello there', 'Greeter');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/^\[\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z\] INFO: Greeter: hello there$/);
  });

  it('a line that cannot be written is dropped, never thrown (a full disk)', () => {
    const full = new Writable({
      write() {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    });
    const logger = createAppLogger({ level: 'log', format: 'json', destination: full });
    expect(() => logger.error('still alive')).not.toThrow();
  });
});
