import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../common/domain-error';
import { GatewayRoutes } from './gateway-routes';
import { Revocation } from './revocation';
import { FeedSink, RevocationFeed } from './revocation-feed';
import { RevocationsAfterRequest, RevocationsPageRequest, RevocationsPageResponse } from './revocations.request.dto';

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
      'sent right after the backlog and then at REVOCATION_HEARTBEAT_MS.',
  })
  @ApiProduces('text/event-stream')
  async stream(@Query() query: RevocationsAfterRequest, @Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const after = resumePoint(query.after, request.headers['last-event-id']);
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': String(request.id),
    });
    raw.write(': revocation feed\n\n');
    const sink = new SseSink(raw);
    const unsubscribe = await this.feed.subscribe(after, sink);
    if (sink.closed) unsubscribe();
    else raw.once('close', unsubscribe);
  }
}

function resumePoint(after: number | undefined, lastEventId: string | string[] | undefined): number {
  if (typeof lastEventId === 'string' && lastEventId !== '') {
    if (!/^\d{1,15}$/.test(lastEventId)) {
      throw new DomainError('VALIDATION_FAILED', 'Last-Event-ID must be a revocation position', { field: 'Last-Event-ID' });
    }
    return Number(lastEventId);
  }
  return after ?? 0;
}

class SseSink implements FeedSink {
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

  end(): void {
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
