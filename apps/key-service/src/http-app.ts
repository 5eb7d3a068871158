import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { MODEL_ACCESS_KEYS_PACKAGE, SERVICE_PROTOS } from '@lib/contracts';
import { AppModule } from './app.module';
import { AppConfig } from './config/app.config';
import { callerRequestId } from './common/request-id';
import { createValidationPipe } from './common/validation';
import { forbiddenQueryParameter, parseJsonBody } from './common/json-body';
import { NAME_MAX_LENGTH } from './keys/domain/key-input.rules';
import { AppExceptionFilter, errorBody, toErrorAnswer } from './http/app-exception.filter';
import { answerMethodNotAllowed } from './http/method-not-allowed';
import { StorageOverrides } from './storage.module';
import { CallerAuthentication } from './auth/caller-authentication';
import { VerificationLookup } from './verification/verification.lookup';
import { TokenService } from './auth/token.service';
import { defaultConsoleDir, registerConsoleRoutes } from './console/console.routes';
import { registerVerifyRoute } from './verification/verify-key.route';
import { buildOpenApiDocument } from './http/openapi-document';
import { StorageHealth } from './health/storage-health';
import { GrpcHealth } from './health/grpc-health';
import { RejectedRequests, capConnections, connectionTimeouts } from './http/connection-limits';
import { Metrics } from './observability/metrics';
import { AppLogger } from './observability/logging';
import { logRequests } from './observability/logging.http';
import { MetricsServer, instrumentHttp, registerMetricsRoute } from './observability/metrics.http';
import { startTracing } from './observability/tracing';
import { traceRequests } from './observability/tracing.http';
import { GrpcTracingInterceptor } from './observability/tracing.grpc';
import { TlsCredentials } from './tls/tls-credentials';

export interface AppOptions extends StorageOverrides {
  /** Serve gRPC on config.grpcPort as well (the service does; HTTP-only tests need not). */
  readonly grpc?: boolean;
  /** Where the built console is (default: dist/console, see console/console.routes.ts). */
  readonly consoleDir?: string;
}

/** A name of NAME_MAX_LENGTH code points of 4 UTF-8 bytes each, every byte percent-encoded (3 characters). */
const MAX_ENCODED_NAME_LENGTH = NAME_MAX_LENGTH * 4 * 3;

/** The whole service, configured but not listening: main.ts and the integration specs share it. */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  // Before the modules are built: the event store is wrapped for spans when a tracer is active.
  const tracer = config.tracing === null ? null : startTracing(config.tracing);
  // TLS_CERT_FILE and TLS_KEY_FILE: HTTPS and gRPC over TLS, with the files re-read when they change.
  const tls = config.tls === null ? null : new TlsCredentials(config.tls);
  const rejected: RejectedRequests = {};
  const adapter = new FastifyAdapter({
    ...(tls !== null ? { https: tls.serverOptions() } : {}),
    // TRUST_PROXY: only then are X-Forwarded-For/-Proto/-Host believed (request.ip, .protocol, .host).
    trustProxy: config.trustProxy === false ? false : typeof config.trustProxy === 'number' ? config.trustProxy : [...config.trustProxy],
    bodyLimit: 256 * 1024,
    // During shutdown a request on a kept-alive connection is answered as usual (with Connection: close),
    // not with Fastify's own 503 body; idle keep-alive connections are closed when the server closes.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    ...connectionTimeouts(config.http, rejected),
    // Names are addresses in paths (Gcore's keys, deployments): the longest name accepted must fit,
    // percent-encoded (find-my-way counts the encoded form), where the default of 100 answers 414.
    routerOptions: { maxParamLength: MAX_ENCODED_NAME_LENGTH },
    // Errors of the router itself (a path that is not percent-encoded UTF-8, a parameter over the
    // router's limit), answered in the service's error shape rather than Fastify's, without echoing the path.
    frameworkErrors: (error: { code?: string }, request: FastifyRequest, reply: FastifyReply) => {
      const tooLong = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const answer = {
        status: tooLong ? 414 : 400,
        code: tooLong ? 'URI_TOO_LONG' : 'VALIDATION_FAILED',
        message: tooLong ? `a path parameter is longer than ${MAX_ENCODED_NAME_LENGTH} characters` : 'the path is not valid percent-encoded UTF-8',
      };
      rejected.report?.(answer.status, String(request.id), answer.code.toLowerCase());
      void reply.status(answer.status).header('x-request-id', request.id).send(errorBody(answer, String(request.id)));
    },
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => {
      return callerRequestId(request.headers['x-request-id']) ?? randomUUID();
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options), adapter, {
    abortOnError: false,
    // Lines logged while the modules are built wait for the service's logger (LOG_LEVEL, LOG_FORMAT): see below.
    bufferLogs: true,
    bodyParser: false,
  });
  const logger = app.get(AppLogger);
  app.useLogger(logger);
  const fastify = app.getHttpAdapter().getInstance();
  if (tls !== null) {
    const server = fastify.server as unknown as import('node:tls').Server;
    tls.onChange(() => server.setSecureContext(tls.contextOptions()));
    tls.watch();
    fastify.addHook('onClose', async () => tls.close());
  }
  logRequests(fastify, logger.pino); // before any route is added: its hooks are every route's
  if (tracer !== null) {
    traceRequests(fastify, tracer); // likewise
    app.useGlobalInterceptors(new GrpcTracingInterceptor(tracer)); // gRPC inherits the app's interceptors
  }
  capConnections(fastify.server, config.http);
  answerMethodNotAllowed(fastify); // before any route is added: it collects their methods
  // DigitalOcean's clients send PUT .../regenerate with a JSON content type and no body: that is {}.
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  fastify.removeContentTypeParser('text/plain');
  // Hooks of every request are callback style: an async hook costs each request a promise (bench:gateway).
  fastify.addHook('preValidation', (request, reply, done) => {
    const problem = forbiddenQueryParameter(request.query);
    if (problem === null) return done();
    void reply.status(400).send(errorBody(toErrorAnswer(problem), String(request.id))); // answered: done is not called
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    done(null, payload);
  });
  const metrics = app.get(Metrics);
  // One line and one count for every request answered before a route ran (no route, so no route's hooks).
  rejected.report = (status, requestId, reason) => {
    metrics.httpRejectedRequests.labels(String(status)).inc();
    logger.pino.info({ request_id: requestId, method: null, route: null, status, reason }, `request rejected before routing: ${status} ${reason}`);
  };
  instrumentHttp(fastify, metrics);
  if (config.metricsPort === null) registerMetricsRoute(fastify, metrics);
  registerVerifyRoute(fastify, app.get(VerificationLookup), app.get(CallerAuthentication), metrics);
  // The web console at /console. Its development sign-in only outside production, and only while tokens are signed
  // with the public development secret, which lets anyone mint a token anyway: a service given AUTH_JWT_SECRET
  // but not NODE_ENV=production offers none.
  registerConsoleRoutes(fastify, app.get(TokenService), {
    dir: options.consoleDir ?? defaultConsoleDir(),
    devSignIn: config.nodeEnv !== 'production' && config.jwtSecretIsDefault,
    identityProvider: config.identityProvider,
    oidc: config.consoleOidc,
  });
  app.useGlobalPipes(createValidationPipe());
  const storage = app.get(StorageHealth);
  app.useGlobalFilters(new AppExceptionFilter((reason) => storage.fault('writes', reason)));
  // No enableShutdownHooks: main.ts stops the service in order (health/graceful-shutdown.ts).

  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });

  if (options.grpc !== false) {
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.GRPC,
        options: {
          package: MODEL_ACCESS_KEYS_PACKAGE,
          protoPath: SERVICE_PROTOS,
          url: `${config.host}:${config.grpcPort}`,
          ...(tls !== null ? { credentials: tls.grpcCredentials() } : {}),
          loader: { keepCase: true, longs: String, enums: String, defaults: false, arrays: true, oneofs: true },
          // grpc.health.v1.Health and server reflection on the same grpc-js server.
          onLoadPackageDefinition: (pkg, server) => app.get(GrpcHealth).addToServer(server, pkg),
        },
      },
      { inheritAppConfig: true },
    );
  }
  return app;
}

/** Opens the gRPC, metrics and HTTP ports; a port that cannot be had stops start-up naming its variable. */
export async function listen(app: INestApplication, config: AppConfig): Promise<void> {
  await namingPort('GRPC_PORT', config.host, config.grpcPort, () => app.startAllMicroservices());
  await namingPort('METRICS_PORT', config.host, config.metricsPort ?? 0, () => app.get(MetricsServer).listen());
  await namingPort('PORT', config.host, config.port, () => app.listen(config.port, config.host));
}

async function namingPort<T>(variable: string, host: string, port: number, open: () => Promise<T>): Promise<T> {
  try {
    return await open();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (/\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(String((error as Error).message))?.[1]);
    if (code === 'EADDRINUSE') throw new Error(`${variable}: ${host}:${port} is already in use by another process`);
    if (code === 'EACCES') throw new Error(`${variable}: ${host}:${port} may not be opened by this user (ports below 1024 need privileges)`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`HOST: ${host} is not an address of this machine (for ${variable})`);
    throw error;
  }
}
