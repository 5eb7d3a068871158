import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { CONSOLE_CSP, consoleCsp } from './console.routes';

/** A stand-in for the built console: what vite writes into dist/console. */
function fakeConsole(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'console-'));
  fs.mkdirSync(path.join(dir, 'assets'));
  fs.writeFileSync(path.join(dir, 'index.html'), '<!doctype html><script type="module" src="/console/assets/index-abc.js"></script>');
  fs.writeFileSync(path.join(dir, 'assets/index-abc.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'assets/index-abc.css'), 'body{}');
  return dir;
}

describe('the console, served by the service', () => {
  let t: TestApp;
  afterEach(() => t.close());

  describe('static files', () => {
    beforeEach(async () => {
      t = await startTestApp({ consoleDir: fakeConsole() });
    });

    it('serves index.html at /console/ under a strict Content-Security-Policy', async () => {
      const page = await t.app.inject({ method: 'GET', url: '/console/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.body).toContain('/console/assets/index-abc.js');
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toBe(CONSOLE_CSP);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toMatch(/style-src 'self'( 'sha256-[A-Za-z0-9+\/=]+')*;/);
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toMatch(/https?:/);
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['cache-control']).toBe('no-cache');
    });

    it('redirects /console to /console/', async () => {
      const answer = await t.app.inject({ method: 'GET', url: '/console' });
      expect(answer.statusCode).toBe(308);
      expect(answer.headers.location).toBe('/console/');
    });

    it('serves the hashed assets with their types, cached for good', async () => {
      const script = await t.app.inject({ method: 'GET', url: '/console/assets/index-abc.js' });
      expect(script.statusCode).toBe(200);
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(script.headers['cache-control']).toContain('immutable');
      const style = await t.app.inject({ method: 'GET', url: '/console/assets/index-abc.css' });
      expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
    });

    it('answers 404 for a file the console does not have, and never reads outside it', async () => {
      for (const url of ['/console/nope.js', '/console/../package.json', '/console/%2e%2e/%2e%2e/package.json', '/console/assets/../../../../etc/passwd']) {
        const answer = await t.app.inject({ method: 'GET', url });
        expect({ url, status: answer.statusCode }).toEqual({ url, status: 404 });
        expect(answer.body).not.toContain('"name": "model-keys"');
      }
    });
  });

  it('says so when the console was not built', async () => {
    t = await startTestApp({ consoleDir: fs.mkdtempSync(path.join(os.tmpdir(), 'console-empty-')) });
    const answer = await t.call('GET', '/console/');
    expect(answer.status).toBe(404);
    expect(answer.body.message).toBe('the console is not built: run npm run build');
  });

  describe('development sign-in', () => {
    it('outside production, signs a token for the chosen team, user and role that the API accepts', async () => {
      t = await startTestApp({ consoleDir: fakeConsole(), env: { NODE_ENV: 'development' } });
      expect((await t.call('GET', '/v1/console/config')).body).toEqual({ dev_sign_in: true, roles: ['owner', 'member', 'auditor'], provider_claims: null, oidc: null });
      const signed = await t.call('POST', '/v1/console/dev-token', { body: { team_id: 'team-7', user_id: 'alice', role: 'member' } });
      expect(signed.status).toBe(200);
      expect(signed.headers['cache-control']).toBe('no-store');
      const created = await t.call('POST', KEYS, { token: signed.body.token, body: { name: 'from-the-console' } });
      expect(created.status).toBe(200);
      expect(created.body.api_key_info.created_by).toBe('alice');
      const team = await t.call('GET', `${KEYS}?view=team`, { token: signed.body.token });
      expect(team.status).toBe(403); // a member, as chosen
    });

    it('refuses a bad team, user or role, naming the field, and machine roles', async () => {
      t = await startTestApp({ consoleDir: fakeConsole() });
      for (const [body, field] of [
        [{ team_id: 'bad team', user_id: 'u', role: 'owner' }, 'team_id'],
        [{ team_id: 't', user_id: 'has space', role: 'owner' }, 'user_id'],
        [{ team_id: 't', user_id: 'u', role: 'gateway' }, 'role'],
        [{ team_id: 't', user_id: 'u', role: 'owner', extra: 1 }, 'extra'],
      ] as const) {
        const answer = await t.call('POST', '/v1/console/dev-token', { body });
        expect({ field, status: answer.status }).toEqual({ field, status: 400 });
        expect(answer.body.details).toEqual({ field });
        expect(answer.body.request_id).toEqual(expect.any(String));
      }
    });

    it('is off with NODE_ENV=production: the route does not exist and the console is told so', async () => {
      t = await startTestApp({
        consoleDir: fakeConsole(),
        env: { NODE_ENV: 'production', AUTH_JWT_SECRET: randomBytes(32).toString('hex'), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
      });
      expect((await t.call('GET', '/v1/console/config')).body).toEqual({ dev_sign_in: false, roles: ['owner', 'member', 'auditor'], provider_claims: null, oidc: null });
      const answer = await t.call('POST', '/v1/console/dev-token', { body: { team_id: 'team-1', user_id: 'u1', role: 'owner' } });
      expect(answer.status).toBe(404);
      expect(answer.body.token).toBeUndefined();
      expect((await t.app.inject({ method: 'GET', url: '/console/' })).statusCode).toBe(200); // the console itself is served
    });

    it('is off once AUTH_JWT_SECRET is set, even without NODE_ENV=production: only the public development secret offers it', async () => {
      t = await startTestApp({ consoleDir: fakeConsole(), env: { NODE_ENV: 'development', AUTH_JWT_SECRET: randomBytes(32).toString('hex') } });
      expect((await t.call('GET', '/v1/console/config')).body.dev_sign_in).toBe(false);
      expect((await t.call('POST', '/v1/console/dev-token', { body: { team_id: 'team-1', user_id: 'u1', role: 'owner' } })).status).toBe(404);
    });
  });

  describe('sign-in through an OpenID Connect provider', () => {
    const provider = {
      AUTH_JWKS_URL: 'https://idp.example.com/realms/acme/certs',
      AUTH_ISSUER: 'https://idp.example.com/realms/acme',
      AUTH_AUDIENCE: 'model-keys',
      AUTH_TEAM_CLAIM: 'org.id',
      AUTH_ROLE_CLAIM: 'groups',
      AUTH_ROLE_MAP: 'key-admins:owner,devs:member',
    };

    it('tells the console the issuer, client id, scopes and where the claims are, and lets it fetch from the issuer\'s origin only', async () => {
      t = await startTestApp({ consoleDir: fakeConsole(), env: { ...provider, CONSOLE_OIDC_CLIENT_ID: 'model-keys-console' } });
      expect((await t.call('GET', '/v1/console/config')).body).toEqual({
        dev_sign_in: true,
        roles: ['owner', 'member', 'auditor'],
        provider_claims: { team: 'org.id', user: 'sub', role: 'groups', role_map: { 'key-admins': 'owner', devs: 'member' } },
        oidc: { issuer: 'https://idp.example.com/realms/acme', client_id: 'model-keys-console', scopes: 'openid profile' },
      });
      const csp = String((await t.app.inject({ method: 'GET', url: '/console/' })).headers['content-security-policy']);
      expect(csp).toBe(consoleCsp(['https://idp.example.com']));
      expect(csp).toContain("connect-src 'self' https://idp.example.com;");
      expect(csp).toContain("script-src 'self';");
    });

    it('without CONSOLE_OIDC_CLIENT_ID, offers no provider sign-in and keeps connect-src to this origin, but still says how to read a pasted provider token', async () => {
      t = await startTestApp({ consoleDir: fakeConsole(), env: provider });
      const config = (await t.call('GET', '/v1/console/config')).body;
      expect(config.oidc).toBeNull();
      expect(config.provider_claims).toMatchObject({ team: 'org.id', role: 'groups' });
      expect((await t.app.inject({ method: 'GET', url: '/console/' })).headers['content-security-policy']).toBe(CONSOLE_CSP);
    });
  });
});
