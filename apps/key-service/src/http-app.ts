import { INestApplication, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { randomUUID } from 'node:crypto';
import { MODEL_ACCESS_KEYS_PACKAGE, SERVICE_PROTOS } from '@lib/contracts';
import { AppModule } from './app.module';
import { AppConfig } from './config/app.config';
import { createValidationPipe } from './common/validation';
import { AppExceptionFilter } from './http/app-exception.filter';
import { StorageOverrides } from './storage.module';
import { TokenService } from './auth/token.service';
import { VerificationLookup } from './verification/verification.lookup';
import { VerifyKeyRequest, VerifyKeyResponse } from './verification/verify-key.request.dto';
import { documentVerifyRoute, registerVerifyRoute } from './verification/verify-key.route';
import { ErrorResponse } from './keys/shared/api-key-info.response';

const LOG_LEVELS: Record<AppConfig['logLevel'], LogLevel[]> = {
  error: ['fatal', 'error'],
  warn: ['fatal', 'error', 'warn'],
  log: ['fatal', 'error', 'warn', 'log'],
  debug: ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'],
};

export interface AppOptions extends StorageOverrides {
  /** Serve gRPC on config.grpcPort as well (the service does; HTTP-only tests need not). */
  readonly grpc?: boolean;
}

/** The whole service, configured but not listening: main.ts and the integration specs share it. */
export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: 256 * 1024,
    genReqId: (request: { headers: Record<string, string | string[] | undefined> }) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, options), adapter, {
    abortOnError: false,
    logger: LOG_LEVELS[config.logLevel],
    bodyParser: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // DigitalOcean's clients send PUT .../regenerate with a JSON content type and no body: that is {}.
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('malformed JSON in the request body'), { statusCode: 400 }), undefined);
    }
  });
  fastify.removeContentTypeParser('text/plain');
  fastify.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  registerVerifyRoute(fastify, app.get(VerificationLookup), app.get(TokenService));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new AppExceptionFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Model key service')
      .setDescription('Event-sourced model access keys: DigitalOcean-compatible paths and shapes, with our fields alongside.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [VerifyKeyRequest, VerifyKeyResponse, ErrorResponse] },
  );
  documentVerifyRoute(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });

  if (options.grpc !== false) {
    app.connectMicroservice<MicroserviceOptions>(
      {
        transport: Transport.GRPC,
        options: {
          package: MODEL_ACCESS_KEYS_PACKAGE,
          protoPath: SERVICE_PROTOS,
          url: `${config.host}:${config.grpcPort}`,
          loader: { keepCase: true, longs: String, enums: String, defaults: false, arrays: true, oneofs: true },
        },
      },
      { inheritAppConfig: true },
    );
  }
  return app;
}

export async function listen(app: INestApplication, config: AppConfig): Promise<void> {
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
}
