import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { Role } from '../../apps/key-service/src/auth/principal';
import { TokenService } from '../../apps/key-service/src/auth/token.service';
import { loadConfig } from '../../apps/key-service/src/config/app.config';
import { AppOptions, createApp } from '../../apps/key-service/src/http-app';

export const KEYS = '/v2/gen-ai/models/api_keys';

export interface Call {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly dataDir: string;
  readonly store: EventStore;
  token(teamId: string, userId: string, role: Role): string;
  call(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, call?: Call): Promise<{ status: number; body: any; headers: Record<string, unknown> }>;
  restart(): Promise<TestApp>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** The whole service on a real SQLite store in a temporary DATA_DIR, driven without a socket. */
export async function startTestApp(options: AppOptions & { env?: NodeJS.ProcessEnv } = {}, dataDir?: string): Promise<TestApp> {
  const dir = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'key-service-'));
  const config = loadConfig({ DATA_DIR: dir, NODE_ENV: 'test', LOG_LEVEL: 'error', ...options.env });
  const app = await createApp(config, { grpc: false, ...options });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const tokens = app.get(TokenService);
  const self: TestApp = {
    app,
    dataDir: dir,
    store: app.get<EventStore>(EVENT_STORE),
    token: (teamId, userId, role) => tokens.sign({ teamId, userId, role }),
    async call(method, url, { token, body, headers = {} } = {}) {
      const response = await app.inject({
        method,
        url,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = response.body;
      return { status: response.statusCode, body: text ? JSON.parse(text) : undefined, headers: response.headers };
    },
    async restart() {
      await app.close();
      return startTestApp(options, dir);
    },
    async close({ keepData = false } = {}) {
      await app.close();
      if (!keepData) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
