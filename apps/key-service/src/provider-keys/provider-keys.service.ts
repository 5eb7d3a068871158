import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { CommandHandling, Decider, EVENT_STORE, EventStore, Metadata } from '@lib/event-store';
import { Metrics } from '../observability/metrics';
import { inSpan } from '../observability/tracing';
import { Principal } from '../auth/principal';
import { CLOCK, Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { RequestContext, eventMetadata } from '../common/request-context';
import { DATA_KEY_STORE, DataKeyStore } from '../crypto/data-key.store';
import { DataKeyDestroyedError, Envelope, SealedSecret } from '../crypto/envelope';
import { canCreate, canManage, canSee } from '../keys/domain/key-access.policy';
import { ProjectionRunner } from '../read-side/projection-runner';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { SECRET_GENERATOR, SecretGenerator } from '../keys/shared/secret-generator';
import { HolderStatus } from '../names/domain/name-registry.decider';
import { NameRegistry } from '../names/name-registry.service';
import { ProviderKeyCommand } from './domain/provider-key.commands';
import { decideProviderKey } from './domain/provider-key.decider';
import { Provider, ProviderKeyEvent, decodeProviderKeyEvent, providerKeyStreamId } from './domain/provider-key.events';
import { checkProviderKeyName } from './domain/provider-key.rules';
import { LinkedAgent, ProviderKeyState, evolveProviderKey, initialProviderKeyState } from './domain/provider-key.state';
import { ProviderKeyAgentRow } from './provider-key-agents.projection';
import { ProviderKeyView, ProviderKeyViewRow, viewOfRow } from './provider-key-views.projection';
import { ProviderVerifier } from './provider-verifier';
import { HeldLease, Leadership } from '../fleet/leadership';

const providerKeyDecider: Decider<ProviderKeyCommand, ProviderKeyEvent, ProviderKeyState> = {
  decide: decideProviderKey,
  evolve: evolveProviderKey,
  initialState: initialProviderKeyState,
  decode: decodeProviderKeyEvent,
};

/** Binds a ciphertext to its key: one key's ciphertext does not decrypt as another's. */
const aadOf = (keyUuid: string) => `provider_key:${keyUuid}`;

/** A data key not (or no longer) in use is destroyed by the sweep once it is this old: see `sweepDataKeys`. */
const LEFTOVER_AGE_MS = 10 * 60_000;
/** How often the leader of the `data-key-sweep` lease sweeps again (ms). */
export const DATA_KEY_SWEEP_MS = 10 * 60_000;

export interface ProviderKeyPage {
  readonly keys: ProviderKeyView[];
  readonly total: number;
}

/** An agent linked to a provider key, as the list route answers it (times ISO-8601). */
export interface ProviderKeyAgent {
  readonly uuid: string;
  readonly name: string | null;
  readonly linked_at: string;
  readonly last_used_at: string | null;
}

export interface ProviderKeyAgentPage {
  readonly agents: ProviderKeyAgent[];
  readonly total: number;
}

export interface ProviderSecret {
  readonly uuid: string;
  readonly provider: Provider;
  readonly name: string;
  readonly api_key: string;
}

/**
 * Partner provider keys: verified with the provider before anything is stored, encrypted under a
 * data key of their own, and unreadable for good once deleted (the data key is destroyed).
 */
@Injectable()
export class ProviderKeys implements OnApplicationBootstrap {
  private readonly logger = new Logger('ProviderKeys');
  private readonly handling: CommandHandling;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(DATA_KEY_STORE) private readonly dataKeys: DataKeyStore,
    @Inject(SECRET_GENERATOR) private readonly ids: SecretGenerator,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly envelope: Envelope,
    private readonly verifier: ProviderVerifier,
    private readonly registry: NameRegistry,
    private readonly projections: ProjectionRunner,
    private readonly metrics: Metrics,
    private readonly leadership: Leadership,
  ) {
    this.handling = new CommandHandling(store, { maxAttempts: 8 });
  }

  async create(actor: Principal, provider: Provider, request: { api_key: string; name: string }, context: RequestContext): Promise<ProviderKeyView> {
    if (!canCreate(actor)) throw new DomainError('FORBIDDEN', `role ${actor.role} cannot add provider keys`);
    const name = checkProviderKeyName(request.name, request.api_key);
    this.assertNameFree(actor.teamId, provider, name);
    const models = await this.verifier.verify(provider, request.api_key);
    const keyUuid = this.ids.newKeyUuid();
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    await this.reserveName(actor.teamId, provider, name, keyUuid, now, metadata);
    let sealed: SealedSecret | null = null;
    try {
      sealed = await this.envelope.seal(request.api_key, keyUuid, aadOf(keyUuid), now);
      const command = { type: 'AddProviderKey', keyUuid, actor, provider, name, sealedSecret: sealed, models: modelsFor(provider, models), now } as const;
      await this.execute(command, metadata);
    } catch (error) {
      if (sealed) await this.envelope.destroy(sealed.dataKeyId);
      await this.registry.release(nameClaim(actor.teamId, provider, name, keyUuid), now, metadata);
      throw error;
    }
    return this.get(actor, provider, keyUuid);
  }

  list(actor: Principal, provider: Provider, page: number, perPage: number): ProviderKeyPage {
    const own = actor.role === 'member' ? 'AND created_by = @user' : '';
    const where = `team_id = @team AND provider = @provider AND deleted_at IS NULL ${own}`;
    const params = { team: actor.teamId, provider, user: actor.userId };
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM provider_key_views WHERE ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM provider_key_views WHERE ${where} ORDER BY created_position DESC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: perPage, offset: (page - 1) * perPage }) as ProviderKeyViewRow[];
    return { keys: rows.map(viewOfRow), total };
  }

  get(actor: Principal, provider: Provider, keyUuid: string): ProviderKeyView {
    const row = this.db.prepare('SELECT * FROM provider_key_views WHERE key_uuid = ? AND deleted_at IS NULL').get(keyUuid) as ProviderKeyViewRow | undefined;
    const view = row && viewOfRow(row);
    if (!view || view.provider !== provider || !canSee(actor, { ...view, legacy: false })) {
      throw new DomainError('KEY_NOT_FOUND', `${provider} key ${keyUuid} not found`);
    }
    return view;
  }

  /** A new secret is verified and sealed under a fresh data key; the old data key is destroyed after. */
  async update(
    actor: Principal,
    provider: Provider,
    keyUuid: string,
    request: { api_key_uuid?: string; api_key?: string; name?: string },
    context: RequestContext,
  ): Promise<ProviderKeyView> {
    if (request.api_key_uuid !== undefined && request.api_key_uuid !== keyUuid) {
      throw new DomainError('VALIDATION_FAILED', 'api_key_uuid must match the uuid in the path', { field: 'api_key_uuid' });
    }
    if (request.api_key === undefined && request.name === undefined) {
      throw new DomainError('VALIDATION_FAILED', 'give api_key, name or both', { field: 'body' });
    }
    const current = this.get(actor, provider, keyUuid);
    if (!canManage(actor, { ...current, legacy: false })) throw new DomainError('FORBIDDEN', `role ${actor.role} cannot change key ${keyUuid}`);
    const name = request.name === undefined ? undefined : checkProviderKeyName(request.name, request.api_key ?? null);
    const renaming = name !== undefined && name !== current.name;
    if (renaming) this.assertNameFree(actor.teamId, provider, name);
    const models = request.api_key === undefined ? null : await this.verifier.verify(provider, request.api_key);
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    if (renaming) await this.reserveName(actor.teamId, provider, name, keyUuid, now, metadata);
    let sealed: SealedSecret | null = null;
    let events: readonly ProviderKeyEvent[];
    try {
      if (request.api_key !== undefined) sealed = await this.envelope.seal(request.api_key, keyUuid, aadOf(keyUuid), now);
      const secret = sealed ? { sealedSecret: sealed, models: modelsFor(provider, models ?? []) } : undefined;
      events = await this.execute({ type: 'UpdateProviderKey', keyUuid, actor, provider, name, secret, now }, metadata);
    } catch (error) {
      if (sealed) await this.envelope.destroy(sealed.dataKeyId);
      if (renaming) await this.registry.release(nameClaim(actor.teamId, provider, name, keyUuid), now, metadata);
      throw error;
    }
    for (const event of events) if (event.type === 'ProviderKeySecretReplaced') await this.envelope.destroy(event.data.replacedDataKeyId);
    if (renaming) await this.registry.release(nameClaim(actor.teamId, provider, current.name, keyUuid), now, metadata);
    return this.get(actor, provider, keyUuid);
  }

  /**
   * Crypto-shredding: the history stays, and the secret in it can never be decrypted again. Succeeds
   * with agents still linked, as DigitalOcean's delete does; `agents` are those that lost access.
   */
  async delete(
    actor: Principal,
    provider: Provider,
    keyUuid: string,
    confirmName: string | null,
    context: RequestContext,
  ): Promise<ProviderKeyView & { readonly lostAgents: readonly ProviderKeyAgent[] }> {
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    const events = await this.execute({ type: 'DeleteProviderKey', keyUuid, actor, provider, confirmName, now }, metadata);
    const state = await this.current(keyUuid);
    for (const event of events) if (event.type === 'ProviderKeyDeleted') await this.envelope.destroy(event.data.dataKeyId);
    if (state.status !== 'absent') await this.registry.release(nameClaim(state.key.teamId, provider, state.key.name, keyUuid), now, metadata);
    const row = this.db.prepare('SELECT * FROM provider_key_views WHERE key_uuid = ?').get(keyUuid) as ProviderKeyViewRow;
    return { ...viewOfRow(row), lostAgents: state.status === 'absent' ? [] : state.key.agents.map(agentOf) };
  }

  /**
   * The agents linked to a key the caller may see (owners and auditors: the team's keys; members: their
   * own; the agent platform, role `service`: its team's keys), in the order they were linked.
   * Throws KEY_NOT_FOUND for a key the caller may not see, deleted or of another provider.
   */
  listAgents(actor: Principal, provider: Provider, keyUuid: string, page: number, perPage: number): ProviderKeyAgentPage {
    if (actor.role === 'service') {
      const row = this.db.prepare('SELECT * FROM provider_key_views WHERE key_uuid = ? AND deleted_at IS NULL').get(keyUuid) as ProviderKeyViewRow | undefined;
      if (!row || row.provider !== provider || row.team_id !== actor.teamId) throw new DomainError('KEY_NOT_FOUND', `${provider} key ${keyUuid} not found`);
    } else {
      this.get(actor, provider, keyUuid);
    }
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM provider_key_agents WHERE key_uuid = ?').get(keyUuid) as { n: number }).n;
    const rows = this.db
      .prepare('SELECT * FROM provider_key_agents WHERE key_uuid = ? ORDER BY link_position LIMIT ? OFFSET ?')
      .all(keyUuid, perPage, (page - 1) * perPage) as ProviderKeyAgentRow[];
    return { agents: rows.map((r) => ({ uuid: r.agent_uuid, name: r.name, linked_at: r.linked_at, last_used_at: r.last_used_at })), total };
  }

  /** The agent platform links an agent (role `service`, the key's team); returns the agent as linked. */
  async linkAgent(actor: Principal, provider: Provider, keyUuid: string, agentUuid: string, agentName: string | null | undefined, context: RequestContext): Promise<ProviderKeyAgent> {
    const now = this.clock.now().toISOString();
    await this.execute({ type: 'LinkAgent', keyUuid, actor, provider, agentUuid, ...(agentName !== undefined ? { agentName } : {}), now }, eventMetadata(actor, context));
    const state = await this.current(keyUuid);
    const agent = state.status === 'active' ? state.key.agents.find((a) => a.agentUuid === agentUuid) : undefined;
    if (!agent) throw new DomainError('KEY_NOT_FOUND', `${provider} key ${keyUuid} not found`);
    return agentOf(agent);
  }

  /** Throws AGENT_NOT_LINKED (404) when the agent is not linked to the key. */
  async unlinkAgent(actor: Principal, provider: Provider, keyUuid: string, agentUuid: string, context: RequestContext): Promise<void> {
    await this.execute({ type: 'UnlinkAgent', keyUuid, actor, provider, agentUuid, now: this.clock.now().toISOString() }, eventMetadata(actor, context));
  }

  /**
   * For role `service` only; the read is appended to the key's history before the plaintext leaves.
   * `agentUuid` names the linked agent the read is for (AGENT_NOT_LINKED otherwise): its last use.
   */
  async readSecret(actor: Principal, keyUuid: string, context: RequestContext, agentUuid?: string): Promise<ProviderSecret> {
    await this.execute(
      { type: 'RecordSecretRead', keyUuid, actor, now: this.clock.now().toISOString(), ...(agentUuid !== undefined ? { agentUuid } : {}) },
      eventMetadata(actor, context),
    );
    const state = await this.current(keyUuid);
    if (state.status !== 'active') throw new DomainError('KEY_NOT_FOUND', `provider key ${keyUuid} not found`);
    try {
      const apiKey = await this.envelope.open(state.key.sealedSecret, keyUuid, aadOf(keyUuid));
      return { uuid: keyUuid, provider: state.key.provider, name: state.key.name, api_key: apiKey };
    } catch (error) {
      if (error instanceof DataKeyDestroyedError) throw new DomainError('KEY_NOT_FOUND', `provider key ${keyUuid} not found`);
      throw error;
    }
  }

  /** The key as its stream has it, sealed secret included. */
  async current(keyUuid: string): Promise<ProviderKeyState> {
    return (await this.store.readStream(providerKeyStreamId(keyUuid))).map(decodeProviderKeyEvent).reduce(evolveProviderKey, initialProviderKeyState);
  }

  /**
   * A crash between a stored delete (or replace) and the destruction of the data key would leave the
   * key readable; the sweep finishes the job. Data keys of keys that were never stored (a create that
   * crashed after sealing) go too, once they are old enough not to belong to a create in flight. It
   * runs on the instance holding the `data-key-sweep` lease: when it takes the lease (so at start-up on
   * a single instance) and every DATA_KEY_SWEEP_MS after.
   */
  onApplicationBootstrap(): void {
    let timer: NodeJS.Timeout | null = null;
    let sweeping: Promise<void> | null = null;
    const sweep = (lease: HeldLease) => {
      sweeping = this.sweepDataKeys(lease)
        .then(() => undefined)
        .catch((error: unknown) => this.logger.error(`data-key sweep failed: ${(error as Error).message}`))
        .finally(() => {
          sweeping = null;
          if (lease.isValid()) {
            timer = setTimeout(() => sweep(lease), DATA_KEY_SWEEP_MS);
            timer.unref();
          }
        });
    };
    this.leadership.run({
      name: 'data-key-sweep',
      start: sweep,
      stop: async () => {
        if (timer) clearTimeout(timer);
        timer = null;
        await sweeping;
      },
    });
  }

  /** One pass of the sweep; returns how many data keys it destroyed. Stops early when the lease is lost. */
  async sweepDataKeys(lease?: HeldLease): Promise<number> {
    const now = this.clock.now().getTime();
    let destroyed = 0;
    // From the keys' own streams, not the views: those may still be catching up at start-up.
    for (const dataKey of await this.dataKeys.all()) {
      if (lease !== undefined && !lease.isValid()) break;
      const state = await this.current(dataKey.owner_id);
      const old = now - Date.parse(dataKey.created_at) > LEFTOVER_AGE_MS;
      const leftover =
        state.status === 'deleted' || (state.status === 'active' ? state.key.sealedSecret.dataKeyId !== dataKey.id && old : old);
      if (leftover) {
        await this.envelope.destroy(dataKey.id);
        destroyed++;
      }
    }
    if (destroyed > 0) this.logger.log(`destroyed ${destroyed} data keys of deleted, replaced or never-stored provider keys`);
    return destroyed;
  }

  private async execute(command: ProviderKeyCommand, metadata: Metadata): Promise<readonly ProviderKeyEvent[]> {
    const streamId = providerKeyStreamId(command.keyUuid);
    return inSpan(`command ${command.type}`, { attributes: { 'command.type': command.type, 'event_store.stream_id': streamId } }, () =>
      this.metrics.timeCommand(command.type, async () => {
        const outcome = await this.handling.handle(streamId, providerKeyDecider, command, metadata);
        if (outcome.position !== null) await this.projections.waitFor(outcome.position);
        return outcome.newEvents;
      }),
    );
  }

  private assertNameFree(teamId: string, provider: Provider, name: string): void {
    const taken = this.db
      .prepare('SELECT 1 FROM provider_key_views WHERE team_id = ? AND provider = ? AND name = ? AND deleted_at IS NULL')
      .get(teamId, provider, name);
    if (taken) throw new DomainError('NAME_TAKEN', `the name "${name}" is already in use for a ${provider} key`, { field: 'name' });
  }

  private reserveName(teamId: string, provider: Provider, name: string, keyUuid: string, now: string, metadata: Metadata): Promise<void> {
    return this.registry.reserve(nameClaim(teamId, provider, name, keyUuid), now, (holder) => this.holderStatus(holder, name), metadata);
  }

  private async holderStatus(keyUuid: string, name: string): Promise<HolderStatus> {
    const state = await this.current(keyUuid);
    if (state.status === 'absent') return 'never_created';
    if (state.status === 'deleted') return 'gone';
    return state.key.name === name ? 'holds' : 'renamed_away';
  }
}

const nameClaim = (teamId: string, provider: Provider, name: string, ownerId: string) => ({
  scope: `provider_key/${provider}/${teamId}`,
  teamId,
  name,
  ownerId,
});

const agentOf = (agent: LinkedAgent): ProviderKeyAgent => ({
  uuid: agent.agentUuid,
  name: agent.name,
  linked_at: agent.linkedAt,
  last_used_at: agent.lastUsedAt,
});

/** OpenAI's answer lists the models the key may use; Anthropic's list is not kept. */
const modelsFor = (provider: Provider, models: readonly string[]): readonly string[] | null => (provider === 'openai' ? models : null);

export const toProviderKeyInfo = (view: ProviderKeyView) => ({
  uuid: view.keyUuid,
  name: view.name,
  created_at: view.createdAt,
  created_by: view.createdBy,
  updated_at: view.updatedAt,
  deleted_at: view.deletedAt,
  ...(view.provider === 'openai' ? { models: [...(view.models ?? [])] } : {}),
});

