import { providerNameChecks } from './provider-name';

/** The service's own rule (provider-key.rules.ts): the checks must agree with it on every name. */
const PROVIDER_KEY_NAME = /^(?!sk-)(?!(?:.*[.-])?(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{24})[a-z0-9.-]{1,100}$/;

describe('the provider key name checks shown as a name is typed', () => {
  it.each(['prod-claude', 'prod-claude.v2', 'a', 'x'.repeat(100), 'sk-prod', 'Prod', 'prod claude', '', 'x'.repeat(101), 'team.abc123def456ghi789jkl012', 'abcdefghijklmnopqrstuvwx', 'v1.2.3', 'sk', 'ask-me'])(
    'agree with the service on %j',
    (name) => {
      expect(providerNameChecks(name).every((c) => c.ok)).toBe(PROVIDER_KEY_NAME.test(name));
    },
  );
});
