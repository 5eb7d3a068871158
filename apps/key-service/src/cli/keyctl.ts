import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { CommandBus } from '@nestjs/cqrs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command } from 'commander';
import { EVENT_STORE, EventStore, EventStoreUnavailableError, openEventStore } from '@lib/event-store';
import { describeBreak, verifyChains } from '../audit/verify-chain';
import { AuditQuery } from '../audit/audit.query';
import { PROJECTION_CLASSES } from '../read-side/read-models';
import { Projection } from '../read-side/projection';
import { rebuildAsideAndSwap } from '../read-side/projection-rebuild';
import { openReadModelDatabase } from '../read-side/read-model.database';
import { ProjectionRunner } from '../read-side/projection-runner';
import { AppModule } from '../app.module';
import { ROLES, Role, principalProblem } from '../auth/principal';
import { TokenService } from '../auth/token.service';
import { ConfigError, loadConfig } from '../config/app.config';
import { keyctlLogger } from '../observability/logging';
import { DomainError } from '../common/domain-error';
import { ImportLegacyKeyCommand } from '../keys/import-legacy-key/import-legacy-key.command';
import { toApiKeyInfo } from '../keys/shared/api-key-info.response';
import { INSTANT_RULE, parseInstant } from '../keys/domain/key-input.rules';

class UsageError extends Error {}

type Config = ReturnType<typeof loadConfig>;

interface TokenOptions {
  team: string;
  user: string;
  role: string;
  ttl?: string;
}

async function token(options: TokenOptions): Promise<number> {
  const config = loadConfig();
  if (!ROLES.includes(options.role as Role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  if (options.ttl !== undefined && !/^\d{1,12}$/.test(options.ttl)) throw new UsageError('--ttl must be a positive whole number of seconds');
  const ttl = options.ttl === undefined ? Math.min(12 * 3600, config.maxTokenTtlSeconds) : Number(options.ttl);
  if (ttl <= 0) throw new UsageError('--ttl must be a positive whole number of seconds');
  if (ttl > config.maxTokenTtlSeconds) {
    throw new UsageError(`--ttl ${ttl} is longer than AUTH_MAX_TOKEN_TTL_S (${config.maxTokenTtlSeconds} s): the service would refuse the token`);
  }
  const principal = { teamId: options.team, userId: options.user, role: options.role as Role };
  const problem = principalProblem(principal.teamId, principal.userId);
  if (problem !== null) throw new UsageError(problem.replace(/^team_id/, '--team').replace(/^sub/, '--user'));
  process.stdout.write(`${new TokenService(config).sign(principal, ttl)}\n`);
  return 0;
}

interface ImportLegacyOptions {
  team: string;
  user: string;
  name: string;
  secretHash: string;
  secretPrefix?: string;
  createdAt?: string;
  uuid?: string;
}

async function importLegacy(options: ImportLegacyOptions): Promise<number> {
  const config = loadConfig();
  const createdAtMs = options.createdAt === undefined ? null : parseInstant(options.createdAt);
  if (createdAtMs === null && options.createdAt !== undefined) throw new UsageError(`--created-at ${INSTANT_RULE}`);
  const owner = principalProblem(options.team, options.user);
  if (owner !== null) throw new UsageError(owner.replace(/^team_id/, '--team').replace(/^sub/, '--user'));
  const input = {
    teamId: options.team,
    createdBy: options.user,
    name: options.name,
    secretHash: options.secretHash,
    secretPrefix: options.secretPrefix ?? null,
    createdAt: createdAtMs === null ? null : new Date(createdAtMs).toISOString(),
    keyUuid: options.uuid ?? null,
  };
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: keyctlLogger(config) });
  try {
    const key = await app.get(CommandBus).execute(new ImportLegacyKeyCommand(input));
    process.stdout.write(`${JSON.stringify({ api_key_info: toApiKeyInfo(key) })}\n`);
  } finally {
    await app.close();
  }
  return 0;
}

async function auditVerify(): Promise<number> {
  const store = await openConfiguredStore(loadConfig());
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

/**
 * The command line, parsed by commander: `--help` on every command, `--version`, and an unknown
 * option or command answered with the command's own help. Each action resolves to the exit code.
 */
function program(run: (action: Promise<number>) => void): Command {
  const cli = new Command('keyctl')
    .description('Operator commands for the key service; reads the same environment as the service (DATA_DIR, EVENT_STORE, AUTH_JWT_SECRET, ...)')
    .version(packageVersion(), '-V, --version')
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text.startsWith('error: ') ? `keyctl: ${text.slice('error: '.length)}` : text) });
  cli
    .command('token')
    .description('Print a signed bearer token and nothing else')
    .requiredOption('--team <team>', 'the team (token claim team_id)')
    .requiredOption('--user <user>', 'the user id (token claim sub)')
    .requiredOption('--role <role>', `one of ${ROLES.join(', ')}`)
    .option('--ttl <seconds>', 'lifetime in seconds: 12 hours (or AUTH_MAX_TOKEN_TTL_S if shorter) unless given, at most AUTH_MAX_TOKEN_TTL_S')
    .action((options: TokenOptions) => run(token(options)));
  cli
    .command('import-legacy')
    .description('Import a key from before scoping existed (all models, no VPC), given the SHA-256 of its secret; prints the key as JSON')
    .requiredOption('--team <team>', 'the team that owns the key')
    .requiredOption('--user <user>', 'who created it')
    .requiredOption('--name <name>', 'its name (the key-name rule applies)')
    .requiredOption('--secret-hash <sha256hex>', 'the SHA-256 of its existing secret, lowercase hex; no live key may hold it')
    .option('--secret-prefix <prefix>', 'the first characters of the secret, for display')
    .option('--created-at <instant>', 'when it was created: a date or a date-time with an offset, not in the future')
    .option('--uuid <uuid>', 'its uuid (a new one unless given)')
    .action((options: ImportLegacyOptions) => run(importLegacy(options)));
  const audit = cli.command('audit').description('The audit trail: verify the hash chains, export a team');
  audit
    .command('verify')
    .description('Walk every stream and check its hash chain: "N streams, M events, chain intact" (exit 0), or the first broken link (exit 1)')
    .action(() => run(auditVerify()));
  audit
    .command('export')
    .description("The team's events in global order as JSON Lines on stdout, a progress line on stderr every 10,000 events")
    .requiredOption('--team <team>', 'the team')
    .option('--from <instant>', 'recorded at or after (a date or a date-time with an offset)')
    .option('--to <instant>', 'recorded at or before')
    .action((options: ExportOptions) => run(exportTeamEvents(loadConfig(), options)));
  cli
    .command('projections')
    .description('The read models')
    .command('rebuild')
    .description('Build the read models (all, or one) again from the first event, aside, then swap them in; safe while the service runs')
    .option('--name <view>', 'key_views, revocations, audit_events or provider_key_views (default: all)')
    .action((options: { name?: string }) => run(rebuildReadModels(loadConfig(), options.name)));
  return cli;
}

function packageVersion(): string {
  for (const candidate of [path.resolve(__dirname, '../../../../package.json'), path.resolve(__dirname, '../../../../../package.json')]) {
    if (fs.existsSync(candidate)) return (JSON.parse(fs.readFileSync(candidate, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

/**
 * For SQLite, that the store exists: a command that reads it, run with another DATA_DIR than the
 * service's, would otherwise make an empty store (and a master key) there and report nothing.
 * Throws UsageError naming the file and DATA_DIR.
 */
function requireExistingStore(config: Config): void {
  const { eventStore } = config;
  if (eventStore.kind === 'sqlite' && !fs.existsSync(eventStore.sqliteFile)) {
    throw new UsageError(`no event store at ${eventStore.sqliteFile} (DATA_DIR=${config.dataDir}): set DATA_DIR to the service's`);
  }
}

/** The store the service is configured with; for SQLite, only one that exists (no empty file made). */
async function openConfiguredStore(config: Config): Promise<EventStore> {
  requireExistingStore(config);
  return openEventStore(config.eventStore);
}

async function rebuildReadModels(config: Config, name: string | undefined): Promise<number> {
  const all = PROJECTION_CLASSES.map((Class) => new Class());
  const names = all.map((p) => p.name);
  if (name !== undefined && !names.includes(name)) throw new UsageError(`--name must be one of ${names.join(', ')}`);
  const chosen = (list: Projection[]) => list.filter((p) => name === undefined || p.name === name);
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

interface ExportOptions {
  team: string;
  from?: string;
  to?: string;
}

async function exportTeamEvents(config: Config, options: ExportOptions): Promise<number> {
  const { team } = options;
  const bound = (name: 'from' | 'to') => {
    const raw = options[name];
    if (raw === undefined) return undefined;
    const ms = parseInstant(raw);
    if (ms === null) throw new UsageError(`--${name} ${INSTANT_RULE}`);
    return new Date(ms).toISOString();
  };
  const from = bound('from');
  const to = bound('to');
  requireExistingStore(config);
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: keyctlLogger(config) });
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

function fail(error: unknown): never {
  if (error instanceof UsageError || error instanceof ConfigError || error instanceof DomainError || error instanceof EventStoreUnavailableError) {
    process.stderr.write(`keyctl: ${error.message}\n`);
  } else {
    process.stderr.write(`keyctl: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  process.exit(1);
}

program((action) => action.then((code) => process.exit(code), fail)).parseAsync(process.argv).catch(fail);
