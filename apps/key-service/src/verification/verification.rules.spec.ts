import { ModelAccessKey } from '../keys/domain/model-access-key.state';
import { grantOf, judge } from './verification.rules';
import { NO_LIMITS } from '../keys/domain/key-limits';

const NOW = Date.parse('2026-11-22T10:00:00.000Z');
const VPC = '5a4981aa-9653-4bd1-bef5-d6bff52042e4';

const key = (overrides: Partial<ModelAccessKey> = {}): ModelAccessKey => ({
  keyUuid: 'k',
  teamId: 't',
  createdBy: 'u',
  name: 'n',
  models: 'all',
  vpcUuid: null,
  batchInferenceEnabled: false,
  legacy: false,
  previousSecret: null,
  uniqueName: false,
  description: null,
  expiresAt: null,
  secretHash: 'h',
  secretPrefix: null,
  deploymentNames: [],
  createdAt: '',
  updatedAt: '',
  deletedAt: null,
  expiredAt: null,
  limits: NO_LIMITS,
  ...overrides,
});

describe('verification rules', () => {
  it('an unknown secret is NOT_FOUND', () => {
    expect(judge(undefined, {}, NOW)).toBe('NOT_FOUND');
  });

  it('a key with all models and no restriction allows any call', () => {
    expect(judge(grantOf(key()), { model: 'anything', vpcUuid: VPC }, NOW)).toBe('VALID');
  });

  it('is expired at and after expires_at, before the scheduler records it', () => {
    const grant = grantOf(key({ expiresAt: '2026-11-22T10:00:00.000Z' }));
    expect(judge(grant, {}, NOW - 1)).toBe('VALID');
    expect(judge(grant, {}, NOW)).toBe('EXPIRED');
    expect(judge(grantOf(key({ expiredAt: '2026-11-22T09:00:00.000Z' })), {}, NOW)).toBe('EXPIRED');
  });

  it('a key scoped to models allows only those, and refuses a call that names none', () => {
    const grant = grantOf(key({ models: ['llama3-8b', 'mistral-7b'] }));
    expect(judge(grant, { model: 'mistral-7b' }, NOW)).toBe('VALID');
    expect(judge(grant, { model: 'gpt-4o' }, NOW)).toBe('MODEL_NOT_ALLOWED');
    expect(judge(grant, {}, NOW)).toBe('MODEL_NOT_ALLOWED');
  });

  it('a key restricted to a VPC allows only calls presenting that VPC', () => {
    const grant = grantOf(key({ vpcUuid: VPC }));
    expect(judge(grant, { vpcUuid: VPC }, NOW)).toBe('VALID');
    expect(judge(grant, { vpcUuid: '00000000-0000-4000-8000-000000000000' }, NOW)).toBe('VPC_DENIED');
    expect(judge(grant, {}, NOW)).toBe('VPC_DENIED');
  });

  it('a call to a dedicated deployment needs the key attached to it; serverless calls do not', () => {
    const grant = grantOf(key({ deploymentNames: ['dep-a'] }));
    expect(judge(grant, { deploymentName: 'dep-a' }, NOW)).toBe('VALID');
    expect(judge(grant, { deploymentName: 'dep-b' }, NOW)).toBe('DEPLOYMENT_NOT_ALLOWED');
    expect(judge(grantOf(key()), { deploymentName: 'dep-a' }, NOW)).toBe('DEPLOYMENT_NOT_ALLOWED');
    expect(judge(grant, {}, NOW)).toBe('VALID');
  });

  it('batch calls need batch inference enabled', () => {
    expect(judge(grantOf(key()), { batch: true }, NOW)).toBe('BATCH_NOT_ALLOWED');
    expect(judge(grantOf(key({ batchInferenceEnabled: true })), { batch: true }, NOW)).toBe('VALID');
    expect(judge(grantOf(key()), { batch: false }, NOW)).toBe('VALID');
  });

  it('a spent quota is USAGE_EXCEEDED until its reset instant, after the scope denials', () => {
    const grant = grantOf(key({ models: ['a'], quotaExhausted: { periodStart: '2026-11-22T00:00:00.000Z', resetsAt: '2026-11-22T10:00:00.000Z' } }));
    expect(judge(grant, { model: 'a' }, NOW - 1)).toBe('USAGE_EXCEEDED');
    expect(judge(grant, { model: 'b' }, NOW - 1)).toBe('MODEL_NOT_ALLOWED');
    expect(judge(grant, { model: 'a' }, NOW)).toBe('VALID');
    expect(judge(grantOf(key({ quotaExhausted: { periodStart: '1970-01-01T00:00:00.000Z', resetsAt: null } })), {}, NOW)).toBe('USAGE_EXCEEDED');
  });

  it('reports expiry before scope denials', () => {
    const grant = grantOf(key({ models: ['a'], vpcUuid: VPC, expiresAt: '2026-01-01T00:00:00.000Z' }));
    expect(judge(grant, { model: 'b' }, NOW)).toBe('EXPIRED');
  });
});
