import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { EVENT_STORE, EventStore, EventStoreUnavailableError, openEventStore } from '@lib/event-store';
import { describeBreak, verifyChains } from '../audit/verify-chain';
import { AuditQuery } from '../audit/audit.query';
import { PROJECTION_CLASSES } from '../read-models';
import { Projection } from '../keys/projections/projection';
import { rebuildAsideAndSwap } from '../keys/projections/projection-rebuild';
import { openReadModelDatabase } from '../keys/projections/read-model.database';
import { ProjectionRunner } from '../keys/projections/projection-runner';
import { AppModule } from '../app.module';
import { ROLES, Role, principalProblem } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ConfigError, loadConfig } from '../config/app.config';
import { DomainError } from '../common/domain-error';
import { ImportLegacyKeyCommand } from '../keys/import-legacy-key/import-legacy-key.command';
import { toApiKeyInfo } from '../keys/shared/api-key-info.response';
import { INSTANT_RULE, parseInstant } from '../keys/domain/key-input.rules';

const USAGE = `keyctl: operator commands for the key service (reads the same environment as the service)

  keyctl token --team T --user U --role ${ROLES.join('|')} [--ttl SECONDS]
      Prints a signed bearer token and nothing else. --ttl: 12 hours (or AUTH_MAX_TOKEN_TTL_S if shorter)
      unless given, at most AUTH_MAX_TOKEN_TTL_S (365 days unless set).

  keyctl import-legacy --team T --user U --name NAME --secret-hash SHA256HEX
                       [--secret-prefix P] [--created-at ISO] [--uuid UUID]
      Imports a key from before scoping existed (all models, no VPC), given the SHA-256 of its
      existing secret. Prints the key as JSON.

  keyctl audit verify
      Walks every stream of the store and checks its hash chain. Prints "N streams, M events,
      chain intact" and exits 0, or names the first broken link and exits 1.

  keyctl projections rebuild [--name key_views|revocations|audit_events|provider_key_views]
      Builds the read models (all, or one) again from the first event, aside, then swaps them in
      at once; safe while the service runs. Progress on stderr.

  keyctl audit export --team T [--from ISO] [--to ISO]
      The team's events in global order as JSON Lines on stdout (recorded_at within the bounds,
      inclusive), with a progress line on stderr every 10,000 events.
`;

class UsageError extends Error {}

function required(values: Record<string, string | boolean | undefined>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  switch (command) {
    case 'token': {
      const { values } = parseArgs({
        args: rest,
        options: { team: { type: 'string' }, user: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string' } },
      });
      const role = required(values, 'role');
      if (!ROLES.includes(role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
      if (values.ttl !== undefined && !/^\d{1,12}$/.test(values.ttl)) throw new UsageError('--ttl must be a positive whole number of seconds');
      const ttl = values.ttl === undefined ? Math.min(12 * 3600, config.maxTokenTtlSeconds) : Number(values.ttl);
      if (ttl <= 0) throw new UsageError('--ttl must be a positive whole number of seconds');
      if (ttl > config.maxTokenTtlSeconds) {
        throw new UsageError(`--ttl ${ttl} is longer than AUTH_MAX_TOKEN_TTL_S (${config.maxTokenTtlSeconds} s): the service would refuse the token`);
      }
      const principal = { teamId: required(values, 'team'), userId: required(values, 'user'), role: role as Role };
      const problem = principalProblem(principal.teamId, principal.userId);
      if (problem !== null) throw new UsageError(problem.replace(/^team_id/, '--team').replace(/^sub/, '--user'));
      const token = new TokenService(config).sign(principal, ttl);
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'import-legacy': {
      const { values } = parseArgs({
        args: rest,
        options: {
          team: { type: 'string' },
          user: { type: 'string' },
          name: { type: 'string' },
          'secret-hash': { type: 'string' },
          'secret-prefix': { type: 'string' },
          'created-at': { type: 'string' },
          uuid: { type: 'string' },
        },
      });
      const createdAt = values['created-at'];
      const createdAtMs = createdAt === undefined ? null : parseInstant(createdAt);
      if (createdAtMs === null && createdAt !== undefined) throw new UsageError(`--created-at ${INSTANT_RULE}`);
      const owner = principalProblem(required(values, 'team'), required(values, 'user'));
      if (owner !== null) throw new UsageError(owner.replace(/^team_id/, '--team').replace(/^sub/, '--user'));
      const input = {
        teamId: required(values, 'team'),
        createdBy: required(values, 'user'),
        name: required(values, 'name'),
        secretHash: required(values, 'secret-hash'),
        secretPrefix: values['secret-prefix'] ?? null,
        createdAt: createdAtMs === null ? null : new Date(createdAtMs).toISOString(),
        keyUuid: values.uuid ?? null,
      };
      const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
      try {
        const key = await app.get(CommandBus).execute(new ImportLegacyKeyCommand(input));
        process.stdout.write(`${JSON.stringify({ api_key_info: toApiKeyInfo(key) })}\n`);
      } finally {
        await app.close();
      }
      return 0;
    }
    case 'projections': {
      const [sub, ...args] = rest;
      if (sub !== 'rebuild') throw new UsageError('projections takes: rebuild');
      return rebuildReadModels(config, args);
    }
    case 'audit': {
      const [sub, ...args] = rest;
      if (sub === 'export') return exportTeamEvents(config, args);
      if (sub !== 'verify') throw new UsageError('audit takes: verify, export');
      const store = await openConfiguredStore(config);
      try {
        const report = await verifyChains(store, (n) => process.stderr.write(`keyctl: ${n} events checked...\n`));
        if (report.broken) {
          process.stdout.write(`${describeBreak(report.broken)}\n`);
          return 1;
        }
        process.stdout.write(`${report.streams} streams, ${report.events} events, chain intact\n`);
        return 0;
      } finally {
        await store.close();
      }
    }
    default:
      process.stderr.write(USAGE);
      return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
  }
}

/** The store the service is configured with; for SQLite, only one that exists (no empty file made). */
async function openConfiguredStore(config: ReturnType<typeof loadConfig>): Promise<EventStore> {
  const { eventStore } = config;
  if (eventStore.kind === 'sqlite' && !fs.existsSync(eventStore.sqliteFile)) {
    throw new UsageError(`no event store at ${eventStore.sqliteFile} (DATA_DIR=${config.dataDir})`);
  }
  return openEventStore(eventStore);
}

async function rebuildReadModels(config: ReturnType<typeof loadConfig>, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { name: { type: 'string' } } });
  const all = PROJECTION_CLASSES.map((Class) => new Class());
  const names = all.map((p) => p.name);
  if (values.name !== undefined && !names.includes(values.name)) throw new UsageError(`--name must be one of ${names.join(', ')}`);
  const chosen = (list: Projection[]) => list.filter((p) => values.name === undefined || p.name === values.name);
  const store = await openConfiguredStore(config);
  const db = openReadModelDatabase(
    config.dataDir,
    (line) => process.stderr.write(`keyctl: ${line}\n`),
    'the views are built again from the event log; restart a service running on this DATA_DIR, which still has the old file open',
  );
  try {
    const started = Date.now();
    const result = await rebuildAsideAndSwap(store, db, {
      aside: chosen(PROJECTION_CLASSES.map((Class) => new Class())),
      live: chosen(all),
      progress: (events, position) => process.stderr.write(`keyctl: ${events} events applied (position ${position})...\n`),
    });
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `keyctl: rebuilt ${result.views.join(', ')} from ${result.events} events up to position ${result.position} in ${seconds.toFixed(1)} s\n`,
    );
    return 0;
  } finally {
    db.close();
    await store.close();
  }
}

async function exportTeamEvents(config: ReturnType<typeof loadConfig>, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { team: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' } } });
  const team = required(values, 'team');
  const bound = (name: 'from' | 'to') => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const ms = parseInstant(raw);
    if (ms === null) throw new UsageError(`--${name} ${INSTANT_RULE}`);
    return new Date(ms).toISOString();
  };
  const from = bound('from');
  const to = bound('to');
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error'] });
  try {
    // The audit index is a view: bring it up to the log's head before reading it.
    await app.init();
    await app.get(ProjectionRunner).waitFor(await app.get<EventStore>(EVENT_STORE).headPosition());
    const audit = app.get(AuditQuery);
    let after = 0;
    let written = 0;
    for (;;) {
      const page = await audit.teamEvents(team, { after, limit: 1000, from, to });
      for (const event of page) {
        if (!process.stdout.write(`${JSON.stringify(event)}\n`)) await new Promise((r) => process.stdout.once('drain', r));
        if (++written % 10_000 === 0) process.stderr.write(`keyctl: ${written} events exported...\n`);
      }
      if (page.length < 1000) break;
      after = page[page.length - 1].position;
    }
    process.stderr.write(`keyctl: ${written} events of team ${team} exported\n`);
    return 0;
  } finally {
    await app.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    if (error instanceof UsageError || error instanceof ConfigError || error instanceof DomainError || error instanceof EventStoreUnavailableError) {
      process.stderr.write(`keyctl: ${error.message}\n`);
    } else if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`keyctl: ${(error as Error).message}\n\n${USAGE}`);
    } else {
      process.stderr.write(`keyctl: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  },
);
