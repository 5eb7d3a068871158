import { ArgumentsHost } from '@nestjs/common';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { firstValueFrom } from 'rxjs';
import { StoreUnavailableError, isCorruptFileError, storageFaultOf } from '@lib/event-store';
import { AppExceptionFilter, toErrorAnswer } from './app-exception.filter';

const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('storage faults: one answer for HTTP and gRPC', () => {
  it.each([
    ['SQLITE_FULL', 'disk full (SQLITE_FULL)'],
    ['SQLITE_IOERR_WRITE', 'I/O error (SQLITE_IOERR_WRITE)'],
    ['ENOSPC', 'disk full (ENOSPC)'],
    ['SQLITE_READONLY_DBMOVED', 'read-only storage (SQLITE_READONLY_DBMOVED)'],
    ['53100', 'disk full (53100)'],
  ])('a write failing with %s is a storage fault: %s', (code, reason) => {
    expect(storageFaultOf(sqliteError(code, 'x'))).toBe(reason);
  });

  it.each(['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_BUSY', 'ECONNREFUSED', undefined])('%s is not a storage fault', (code) => {
    expect(storageFaultOf(code === undefined ? new Error('x') : sqliteError(code, 'x'))).toBeNull();
  });

  it('knows a damaged file by SQLITE_CORRUPT (and its extended codes) and SQLITE_NOTADB', () => {
    expect(['SQLITE_CORRUPT', 'SQLITE_CORRUPT_INDEX', 'SQLITE_NOTADB'].map((c) => isCorruptFileError(sqliteError(c, 'x')))).toEqual([true, true, true]);
    expect(isCorruptFileError(sqliteError('SQLITE_FULL', 'x'))).toBe(false);
  });

  it('a raw SQLITE_FULL from any file (the idempotency or data-key database) answers 503 STORE_UNAVAILABLE, never 500', () => {
    expect(toErrorAnswer(sqliteError('SQLITE_FULL', 'database or disk is full'))).toEqual({
      status: 503,
      code: 'STORE_UNAVAILABLE',
      message: 'the service cannot store this now: disk full (SQLITE_FULL); retry later',
      details: { reason: 'disk full (SQLITE_FULL)' },
    });
  });

  it('answers HTTP 503 with Retry-After, and tells /readyz the reason', () => {
    const faults: string[] = [];
    const reply = { headers: {} as Record<string, string>, statusCode: 0, body: undefined as unknown };
    const fastifyReply = {
      header: (name: string, value: string) => ((reply.headers[name] = value), fastifyReply),
      status: (code: number) => ((reply.statusCode = code), fastifyReply),
      send: (body: unknown) => ((reply.body = body), fastifyReply),
    };
    const host = {
      getType: () => 'http',
      switchToHttp: () => ({ getRequest: () => ({ id: 'req-1' }), getResponse: () => fastifyReply }),
    } as unknown as ArgumentsHost;
    new AppExceptionFilter((reason) => faults.push(reason)).catch(new StoreUnavailableError('disk full (SQLITE_FULL)', 'the event store cannot write: disk full (SQLITE_FULL)'), host);
    expect(reply.statusCode).toBe(503);
    expect(reply.headers['retry-after']).toMatch(/^\d+$/);
    expect(reply.body).toMatchObject({ id: 'service_unavailable', code: 'STORE_UNAVAILABLE', request_id: 'req-1', details: { reason: 'disk full (SQLITE_FULL)' } });
    expect(faults).toEqual(['disk full (SQLITE_FULL)']);
  });

  it('answers gRPC UNAVAILABLE with error-code STORE_UNAVAILABLE', async () => {
    const host = { getType: () => 'rpc' } as unknown as ArgumentsHost;
    const result = new AppExceptionFilter().catch(sqliteError('SQLITE_FULL', 'database or disk is full'), host);
    const error = await firstValueFrom(result!).catch((e: { code: number; metadata: Metadata }) => e);
    expect(error.code).toBe(GrpcStatus.UNAVAILABLE);
    expect(error.metadata.get('error-code')).toEqual(['STORE_UNAVAILABLE']);
  });
});
