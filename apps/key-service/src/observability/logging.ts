import { LoggerService } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import { inspect } from 'node:util';
import pino, { DestinationStream, Level, Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';

/**
 * The service's logs: pino, one JSON object a line (or pino-pretty's text on a terminal), with UTC ISO
 * 8601 timestamps. Every line written while a request is served carries its request id (see
 * logging.http.ts); no line carries a header, a body or a query string.
 */

export type LogFormat = 'json' | 'text';
/** LOG_LEVEL, in Nest's words: `log` is pino's `info`; `debug` also lets Nest's `verbose` (pino's `trace`) through. */
export type LogLevelName = 'error' | 'warn' | 'log' | 'debug';

export const PINO_LEVELS: Readonly<Record<LogLevelName, Level>> = { error: 'error', warn: 'warn', log: 'info', debug: 'trace' };

export interface LoggingOptions {
  readonly level: LogLevelName;
  readonly format: LogFormat;
  /** Where lines go: stdout for the service (its errors are handled by keepLogStreamsAlive), stderr for keyctl. */
  readonly destination?: NodeJS.WritableStream;
  /** The `service` field of every line. */
  readonly service?: string;
}

/** The request being served, if any: bound by logging.http.ts, read by every line. */
export interface RequestLogContext {
  readonly requestId: string;
}

export const requestLogContext = new AsyncLocalStorage<RequestLogContext>();

/**
 * Never logged, should a caller pass an object holding them (lines are built from chosen fields, so
 * this is a second line of defence): the credentials a request or a key carries.
 */
export const REDACTED_PATHS = [
  'authorization',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'secret',
  'secret_key',
  'secretKey',
  'api_key',
  'apiKey',
  'token',
  'password',
  '*.secret',
  '*.secret_key',
  '*.secretKey',
  '*.api_key',
  '*.apiKey',
  '*.token',
  '*.password',
];

/**
 * A line that cannot be written (a full disk: ENOSPC, a closed pipe: EPIPE) is dropped: the stream is
 * process.stdout or stderr, whose 'error' events keepLogStreamsAlive() swallows; a synchronous throw
 * is caught here. Logging never ends the process.
 */
function safeDestination(stream: NodeJS.WritableStream, format: LogFormat): DestinationStream {
  const pretty =
    format === 'text'
      ? prettyFactory({
          colorize: (stream as { isTTY?: boolean }).isTTY === true,
          translateTime: false, // already UTC ISO 8601
          ignore: 'pid,hostname,service,context',
          messageFormat: '{if context}{context}: {end}{msg}',
          singleLine: true,
        })
      : null;
  return {
    write(line: string) {
      try {
        stream.write(pretty ? pretty(line) : line);
      } catch {
        // dropped: see above
      }
    },
  };
}

export function createRootLogger(options: LoggingOptions): PinoLogger {
  return pino(
    {
      level: PINO_LEVELS[options.level],
      base: { service: options.service ?? 'key-service', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      serializers: { err: pino.stdSerializers.err },
      mixin: () => {
        const context = requestLogContext.getStore();
        return context ? { request_id: context.requestId } : {};
      },
    },
    safeDestination(options.destination ?? process.stdout, options.format),
  );
}

/**
 * Nest's LoggerService on pino: every `new Logger(context)` of the application (once app.useLogger or
 * NestFactory's `logger` has it) writes through here, its context in the `context` field. Nest calls
 * `log(message, context)` and `error(message, stack, context)`; a message may be an object or an Error.
 */
export class AppLogger implements LoggerService {
  constructor(readonly pino: PinoLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    // Nest's error(message, stack?, context?): the context is last, when the Logger has one; a stack is a string with frames.
    const isStack = (p: unknown): p is string => typeof p === 'string' && /\n\s*at /.test(p);
    const last = params[params.length - 1];
    const context = typeof last === 'string' && !isStack(last) ? last : undefined;
    const stack = params.find(isStack);
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    this.emit('error', message, fields);
  }

  /** Levels are pino's (LOG_LEVEL); Nest's own filter is not used. */
  setLogLevels(): void {}

  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.pino.isLevelEnabled(level)) return;
    const context = params.length > 0 && typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    this.emit(level, message, context ? { context } : {});
  }

  private emit(level: Level, message: unknown, fields: Record<string, unknown>): void {
    if (message instanceof Error) {
      this.pino[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.pino[level]({ ...fields, ...(message as object) });
    } else {
      this.pino[level](fields, typeof message === 'string' ? message : inspect(message));
    }
  }
}

/** The logger the service writes with, from LOG_LEVEL and LOG_FORMAT. */
export function createAppLogger(options: LoggingOptions): AppLogger {
  return new AppLogger(createRootLogger(options));
}

/**
 * keyctl's logger: its stdout is its answer (a token, a key, JSON lines), so its log lines go to
 * stderr, errors only (as before), in LOG_FORMAT.
 */
export function keyctlLogger(config: { readonly logFormat: LogFormat }): AppLogger {
  return createAppLogger({ level: 'error', format: config.logFormat, destination: process.stderr, service: 'keyctl' });
}
