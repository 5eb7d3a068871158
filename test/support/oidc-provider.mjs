// A real OpenID Provider for the browser test of the console's sign-in: panva's oidc-provider (a
// certified implementation), on 127.0.0.1, with its development login form. Run by
// test/browser/oidc.browser-spec.ts as a child process (oidc-provider is an ES module; jest's runtime
// is CommonJS). Settings come from the environment; it prints one JSON line {"issuer": ...} once ready.
//
// What the console needs of a provider, as the README says: a public client (no secret, PKCE S256
// required) whose redirect URI is the console's own address, CORS for the console's origin (discovery
// and the token endpoint are fetched from the browser), and an access token that is a JWT for the
// service's audience, carrying the team and the role.
import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';

const { OIDC_PORT, OIDC_CLIENT_ID, OIDC_REDIRECT_URI, OIDC_AUDIENCE } = process.env;
const issuer = `http://127.0.0.1:${OIDC_PORT}`;
const consoleOrigin = new URL(OIDC_REDIRECT_URI).origin;

/** The people who can sign in: the login name is the subject; the team and groups are the provider's. */
const PEOPLE = {
  alice: { org: { id: 'team-oidc', name: 'OIDC team' }, groups: ['offline_access', 'key-admins'] },
  bob: { org: { id: 'team-oidc', name: 'OIDC team' }, groups: ['developers'] },
};

const person = (id) => PEOPLE[id] ?? { org: { id: 'team-nobody' }, groups: [] };
const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: OIDC_CLIENT_ID,
      client_name: 'Model keys console',
      token_endpoint_auth_method: 'none',
      application_type: 'web',
      redirect_uris: [OIDC_REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: { keys: [{ ...signingKey, kid: 'test-es256', alg: 'ES256', use: 'sig' }] },
  cookies: { keys: ['a test provider cookie key, nothing secret'] },
  pkce: { required: () => true },
  clientBasedCORS: (_ctx, origin) => origin === consoleOrigin,
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, ...person(sub) }),
  }),
  claims: { openid: ['sub'], profile: ['org', 'groups'] },
  features: {
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The console sends no resource parameter: the service's audience is the default one.
      defaultResource: () => OIDC_AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => {
        if (resource !== OIDC_AUDIENCE) throw new Error(`unknown resource ${resource}`);
        return { scope: 'openid profile', audience: OIDC_AUDIENCE, accessTokenFormat: 'jwt', accessTokenTTL: 600, jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
  // The team and groups in the access token, which the service reads (AUTH_TEAM_CLAIM, AUTH_ROLE_CLAIM).
  extraTokenClaims: (_ctx, token) => (token.kind === 'AccessToken' ? person(token.accountId) : undefined),
  ttl: { AccessToken: 600, IdToken: 600, AuthorizationCode: 60, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error', error));

const server = provider.listen(Number(OIDC_PORT), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
