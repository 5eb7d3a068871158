import { Principal } from '../../auth/principal';
import { DomainError } from '../../common/domain-error';
import { ProviderKeyCommand } from './provider-key.commands';
import { decideProviderKey } from './provider-key.decider';
import { ProviderKeyEvent, decodeProviderKeyEvent } from './provider-key.events';
import { ProviderKeyState, evolveProviderKey, initialProviderKeyState } from './provider-key.state';

const NOW = '2026-11-22T10:00:00.000Z';
const LATER = '2026-11-22T11:00:00.000Z';
const KEY = '0b0d5cb4-4a4f-4f53-9d1c-2a0c0a4c7d11';
const AGENT = '7f7b6c2e-33a1-4c55-a5f5-8a1f2d9e0c01';
const OTHER_AGENT = '7f7b6c2e-33a1-4c55-a5f5-8a1f2d9e0c02';
const platform: Principal = { teamId: 'team-1', userId: 'agents', role: 'service' };
const otherPlatform: Principal = { teamId: 'team-2', userId: 'agents', role: 'service' };
const owner: Principal = { teamId: 'team-1', userId: 'u1', role: 'owner' };

const added: ProviderKeyEvent = {
  type: 'ProviderKeyAdded',
  data: {
    keyUuid: KEY,
    teamId: 'team-1',
    provider: 'anthropic',
    name: 'prod-claude',
    createdBy: 'u1',
    sealedSecret: { alg: 'A256GCM', dataKeyId: 'dk-1', nonce: 'n', ciphertext: 'c' },
    models: null,
    createdAt: NOW,
  },
};
const linked = (agentUuid = AGENT, agentName: string | null = 'support-bot'): ProviderKeyEvent => ({
  type: 'ProviderKeyAgentLinked',
  data: { keyUuid: KEY, teamId: 'team-1', agentUuid, agentName, linkedBy: 'agents', linkedAt: NOW },
});

const fold = (events: ProviderKeyEvent[]): ProviderKeyState => events.reduce(evolveProviderKey, initialProviderKeyState);
const link = (overrides: Partial<Extract<ProviderKeyCommand, { type: 'LinkAgent' }>> = {}): ProviderKeyCommand => ({
  type: 'LinkAgent',
  keyUuid: KEY,
  actor: platform,
  provider: 'anthropic',
  agentUuid: AGENT,
  agentName: 'support-bot',
  now: NOW,
  ...overrides,
});
const unlink = (actor = platform, agentUuid = AGENT): ProviderKeyCommand => ({ type: 'UnlinkAgent', keyUuid: KEY, actor, provider: 'anthropic', agentUuid, now: LATER });
const read = (agentUuid?: string): ProviderKeyCommand => ({ type: 'RecordSecretRead', keyUuid: KEY, actor: platform, now: LATER, ...(agentUuid ? { agentUuid } : {}) });
const code = (run: () => unknown): string => {
  try {
    run();
  } catch (error) {
    return (error as DomainError).code;
  }
  return 'no error';
};

describe('the agents behind a provider key', () => {
  it('the agent platform links an agent: who and when are on the key stream', () => {
    expect(decideProviderKey(link(), fold([added]))).toEqual([linked()]);
    const state = fold([added, linked()]);
    expect(state.status === 'active' && state.key.agents).toEqual([{ agentUuid: AGENT, name: 'support-bot', linkedBy: 'agents', linkedAt: NOW, lastUsedAt: null }]);
  });

  it('linking a linked agent again gives no event; with another name, an event that renames it', () => {
    expect(decideProviderKey(link(), fold([added, linked()]))).toEqual([]);
    expect(decideProviderKey(link({ agentName: undefined }), fold([added, linked()]))).toEqual([]);
    const renamed = decideProviderKey(link({ agentName: 'helpdesk', now: LATER }), fold([added, linked()]));
    expect(renamed).toEqual([{ type: 'ProviderKeyAgentLinked', data: { keyUuid: KEY, teamId: 'team-1', agentUuid: AGENT, agentName: 'helpdesk', linkedBy: 'agents', linkedAt: LATER } }]);
    // null removes the name; null again (or a link of an unnamed agent without a name) changes nothing.
    const unnamed = decideProviderKey(link({ agentName: null, now: LATER }), fold([added, linked()]));
    expect(unnamed).toEqual([{ type: 'ProviderKeyAgentLinked', data: { keyUuid: KEY, teamId: 'team-1', agentUuid: AGENT, agentName: null, linkedBy: 'agents', linkedAt: LATER } }]);
    expect(decideProviderKey(link({ agentName: null }), fold([added, linked(AGENT, null)]))).toEqual([]);
    const state = fold([added, linked(), ...renamed]);
    expect(state.status === 'active' && state.key.agents).toEqual([expect.objectContaining({ name: 'helpdesk', linkedAt: NOW })]);
  });

  it('a name is stored trimmed; a name that breaks the key name rule is refused', () => {
    expect(decideProviderKey(link({ agentName: '  support-bot ' }), fold([added]))).toEqual([linked()]);
    expect(code(() => decideProviderKey(link({ agentName: 'bot\u0000' }), fold([added])))).toBe('INVALID_NAME');
  });

  it('an agent linked without a name has a null name', () => {
    expect(decideProviderKey(link({ agentName: undefined }), fold([added]))).toEqual([linked(AGENT, null)]);
  });

  it('only role service of the key’s team links or unlinks; an owner may not, another team’s key does not exist', () => {
    expect(code(() => decideProviderKey(link({ actor: owner }), fold([added])))).toBe('FORBIDDEN');
    expect(code(() => decideProviderKey(unlink(owner), fold([added, linked()])))).toBe('FORBIDDEN');
    expect(code(() => decideProviderKey(link({ actor: otherPlatform }), fold([added])))).toBe('KEY_NOT_FOUND');
    expect(code(() => decideProviderKey(link({ provider: 'openai' }), fold([added])))).toBe('KEY_NOT_FOUND');
    expect(code(() => decideProviderKey(link(), fold([])))).toBe('KEY_NOT_FOUND');
  });

  it('unlinks a linked agent, and refuses an agent that is not linked', () => {
    const events = decideProviderKey(unlink(), fold([added, linked(), linked(OTHER_AGENT, null)]));
    expect(events).toEqual([{ type: 'ProviderKeyAgentUnlinked', data: { keyUuid: KEY, teamId: 'team-1', agentUuid: AGENT, unlinkedBy: 'agents', unlinkedAt: LATER } }]);
    const state = fold([added, linked(), linked(OTHER_AGENT, null), ...events]);
    expect(state.status === 'active' && state.key.agents.map((a) => a.agentUuid)).toEqual([OTHER_AGENT]);
    expect(code(() => decideProviderKey(unlink(platform, OTHER_AGENT), fold([added, linked()])))).toBe('AGENT_NOT_LINKED');
  });

  it('a plaintext read for a linked agent records its use; for an agent not linked it is refused', () => {
    const events = decideProviderKey(read(AGENT), fold([added, linked()]));
    expect(events).toEqual([{ type: 'ProviderKeySecretRead', data: { keyUuid: KEY, teamId: 'team-1', readBy: 'agents', readAt: LATER, agentUuid: AGENT } }]);
    const state = fold([added, linked(), ...events]);
    expect(state.status === 'active' && state.key.agents[0].lastUsedAt).toBe(LATER);
    expect(code(() => decideProviderKey(read(OTHER_AGENT), fold([added, linked()])))).toBe('AGENT_NOT_LINKED');
  });

  it('a read that names no agent is recorded as before, and an old read event still replays', () => {
    expect(decideProviderKey(read(), fold([added]))).toEqual([{ type: 'ProviderKeySecretRead', data: { keyUuid: KEY, teamId: 'team-1', readBy: 'agents', readAt: LATER } }]);
    const old = decodeProviderKeyEvent({ type: 'ProviderKeySecretRead', data: JSON.parse(`{"keyUuid":"${KEY}","teamId":"team-1","readBy":"agents","readAt":"${LATER}"}`) });
    const state = fold([added, linked(), old]);
    expect(state.status === 'active' && state.key.agents[0].lastUsedAt).toBeNull();
  });

  it('a delete with agents linked still succeeds, and the deleted key keeps the agents that lost access', () => {
    const events = decideProviderKey({ type: 'DeleteProviderKey', keyUuid: KEY, actor: owner, provider: 'anthropic', confirmName: null, now: LATER }, fold([added, linked()]));
    expect(events.map((e) => e.type)).toEqual(['ProviderKeyDeleted']);
    const state = fold([added, linked(), ...events]);
    expect(state.status).toBe('deleted');
    expect(state.status === 'deleted' && state.key.agents.map((a) => a.agentUuid)).toEqual([AGENT]);
    expect(code(() => decideProviderKey(link(), state))).toBe('KEY_NOT_FOUND');
  });
});
