import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MAX_POSITION } from '../common/bounds';
import { DomainError } from '../common/domain-error';
import type { AuthenticatedRequest } from '../auth/auth.guard';
import { GatewayRoutes } from './gateway-routes';
import { Revocation } from './revocation';
import { FeedEndReason, FeedSink, RevocationFeed } from './revocation-feed';
import { RevocationsAfterRequest, RevocationsPageRequest, RevocationsPageResponse } from './revocations.request.dto';

/** One event of the stream as an SSE parser reads it; `data` is JSON, by event type. */
const SSE_EVENT_SCHEMA = {
  type: 'object',
  required: ['event', 'data'],
  properties: {
    event: { type: 'string', enum: ['revocation', 'heartbeat', 'end'] },
    id: { type: 'string', pattern: '^[0-9]+$', description: 'revocation: its position, the resume point (Last-Event-ID)' },
    data: {
      type: 'string',
      contentMediaType: 'application/json',
      contentSchema: {
        oneOf: [
          { $ref: '#/components/schemas/RevocationResponse' },
          {
            type: 'object',
            required: ['position', 'head_position', 'time'],
            properties: { position: { type: 'integer' }, head_position: { type: 'integer' }, time: { type: 'string', format: 'date-time' } },
          },
          {
            type: 'object',
            required: ['reason', 'message'],
            properties: { reason: { type: 'string', enum: ['token_expired', 'shutdown'] }, message: { type: 'string' } },
          },
        ],
      },
    },
  },
};

/** A stream whose client reads slower than revocations arrive is closed; the client resumes from its position. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

@GatewayRoutes('revocation feed')
@Controller('v1/revocations')
export class RevocationsHttpController {
  constructor(private readonly feed: RevocationFeed) {}

  @Get()
  @ApiOperation({ summary: 'A page of the revocation feed, oldest first' })
  @ApiOkResponse({ type: RevocationsPageResponse })
  page(@Query() query: RevocationsPageRequest): RevocationsPageResponse {
    const after = query.after ?? 0;
    const head = this.feed.head;
    const revocations = this.feed.page(after, query.limit ?? 100);
    const full = revocations.length === (query.limit ?? 100);
    // A short page means everything up to the head was read: the next page may start there.
    const nextAfter = full ? revocations[revocations.length - 1].position : Math.max(after, head);
    return { revocations: revocations.map((r) => ({ ...r, secret_hashes: [...r.secret_hashes] })), next_after: nextAfter, head_position: head };
  }

  @Get('stream')
  @ApiOperation({
    summary: 'Server-Sent Events: the backlog after `after` (or Last-Event-ID), then live',
    description:
      'Events: `revocation` (id = position, data = a revocation) and `heartbeat` (data = {position, head_position, time}), ' +
      'sent right after the backlog and then at REVOCATION_HEARTBEAT_MS. The last event is `end` (data = {reason, message}): ' +
      '`token_expired` when the token the stream was opened with expires, `shutdown` when the service stops.',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, schema: { type: 'integer', minimum: 0, maximum: MAX_POSITION }, description: 'Resume after this position (wins over `after`)' })
  @ApiOkResponse({ description: 'The stream; the schema is that of one event', content: { 'text/event-stream': { schema: SSE_EVENT_SCHEMA } } })
  async stream(@Query() query: RevocationsAfterRequest, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const after = resumePoint(query.after, request.headers['last-event-id']);
    // The guard has checked the token (or client certificate); the stream must not outlive it.
    const { expiresAtMs } = (request as AuthenticatedRequest).session!;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id),
    });
    // HEAD (which Fastify routes here with GET) gets the headers alone: Node sends no body for it, so
    // a stream would hold the request open with nothing ever sent.
    if (request.method === 'HEAD') {
      raw.end();
      return;
    }
    raw.write(': revocation feed\n\n');
    const sink = new SseSink(raw);
    const unsubscribe = await this.feed.subscribe(after, sink, expiresAtMs);
    if (sink.closed) unsubscribe();
    else raw.once('close', unsubscribe);
  }
}

function resumePoint(after: number | undefined, lastEventId: string | string[] | undefined): number {
  if (typeof lastEventId === 'string') {
    // The same bound as `after`: a position is a safe integer (an EventSource never sends an empty one).
    if (!/^\d{1,16}$/.test(lastEventId) || Number(lastEventId) > MAX_POSITION) {
      throw new DomainError('VALIDATION_FAILED', `Last-Event-ID must be a revocation position (an integer from 0 to ${MAX_POSITION})`, {
        field: 'Last-Event-ID',
      });
    }
    return Number(lastEventId);
  }
  return after ?? 0;
}

const END_MESSAGES: Readonly<Record<FeedEndReason, string>> = {
  token_expired: 'the token this stream was opened with has expired: reconnect with a new one',
  shutdown: 'the service is stopping: reconnect and resume from the last position',
};

class SseSink implements FeedSink {
  readonly transport = 'sse';
  private ended = false;

  constructor(private readonly raw: FastifyReply['raw']) {
    raw.once('close', () => (this.ended = true));
  }

  get closed(): boolean {
    return this.ended || this.raw.destroyed;
  }

  revocation(revocation: Revocation): void {
    this.write(`id: ${revocation.position}\nevent: revocation\ndata: ${JSON.stringify(revocation)}\n\n`);
  }

  heartbeat(position: number, head: number): void {
    this.write(`event: heartbeat\ndata: ${JSON.stringify({ position, head_position: head, time: new Date().toISOString() })}\n\n`);
  }

  end(reason: FeedEndReason): void {
    this.write(`event: end\ndata: ${JSON.stringify({ reason, message: END_MESSAGES[reason] })}\n\n`);
    this.ended = true;
    this.raw.end();
  }

  drain(): Promise<void> {
    if (this.closed || !this.raw.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.raw.off('drain', done);
        this.raw.off('close', done);
        resolve();
      };
      this.raw.once('drain', done);
      this.raw.once('close', done);
    });
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.raw.writableLength > MAX_BUFFERED_BYTES) {
      this.ended = true;
      this.raw.destroy();
      return;
    }
    this.raw.write(chunk);
  }
}
