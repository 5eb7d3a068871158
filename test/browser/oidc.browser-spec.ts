import AxeBuilder from '@axe-core/playwright';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { ROOT, ServiceProcess, api, startService } from '../support/service-process';

/**
 * The console's sign-in through a real OpenID Provider: panva's oidc-provider (test/support/oidc-provider.mjs)
 * on 127.0.0.1, a public client with PKCE, its development login form, JWT access tokens for the
 * service's audience carrying the team (org.id) and the groups; the service started with AUTH_JWKS_URL,
 * AUTH_ISSUER, AUTH_AUDIENCE, the claim settings and CONSOLE_OIDC_CLIENT_ID. Debian's Chromium clicks
 * through it as a person does.
 */
jest.setTimeout(300_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.CONSOLE_SCREENSHOTS ?? 'dist/console-screenshots');
const CLIENT_ID = 'model-keys-console';
const AUDIENCE = 'urn:model-keys:api'; // oidc-provider's resource indicators are absolute URIs (RFC 8707)
const PENDING_KEY = 'model-keys-console.oidc-pending';
const TOKEN_KEY = 'model-keys-console.token';

let service: ServiceProcess;
let provider: ChildProcess;
let providerOutput = '';
let issuer: string;
let browser: Browser;

/** A free port of the range these tests may use (44000-44999). */
async function freePortInRange(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 44000 + Math.floor(Math.random() * 1000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 44000-44999');
}

/** Starts the provider and waits for its {"issuer"} line. */
async function startProvider(port: number, redirectUri: string): Promise<string> {
  provider = spawn(process.execPath, [path.join(ROOT, 'test/support/oidc-provider.mjs')], {
    env: { ...process.env, NODE_ENV: 'test', OIDC_PORT: String(port), OIDC_CLIENT_ID: CLIENT_ID, OIDC_REDIRECT_URI: redirectUri, OIDC_AUDIENCE: AUDIENCE },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  provider.stderr!.on('data', (d) => (providerOutput += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the OpenID provider did not start: ${providerOutput}`)), 30_000);
    provider.stdout!.on('data', (d) => {
      providerOutput += d;
      const line = /\{"issuer":"[^"]+"\}/.exec(providerOutput);
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line[0]) as { issuer: string }).issuer);
      }
    });
    provider.once('exit', (code) => reject(new Error(`the OpenID provider exited with ${code}: ${providerOutput}`)));
  });
}

interface Watched {
  page: Page;
  context: BrowserContext;
  problems: string[];
}

async function open(): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // The console's pages only: the provider's pages are its own business.
    if (message.location().url.startsWith(service.baseUrl) && /Content.Security.Policy|Refused to/i.test(message.text())) {
      problems.push(`${message.text()} at ${JSON.stringify(message.location())}`);
    }
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Nothing may leave the console for an origin other than the service's and the provider's. The
  // provider's development pages load a web font from Google: answered empty here, offline.
  await context.route(
    (url) => !url.href.startsWith(service.baseUrl) && !url.href.startsWith(issuer),
    (route) => {
      const from = route.request().frame().url();
      if (from.startsWith(issuer)) return route.fulfill({ status: 200, contentType: 'text/css', body: '' });
      problems.push(`request to another origin: ${route.request().url()} from ${from}`);
      return route.abort();
    },
  );
  const answer = await page.goto(`${service.baseUrl}/console/`);
  expect(answer?.status()).toBe(200);
  expect(answer?.headers()['content-security-policy']).toContain(`connect-src 'self' ${issuer};`);
  await page.getByRole('heading', { name: 'Model keys console' }).first().waitFor();
  return { page, context, problems };
}

async function accessible(page: Page, screen: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ screen, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  expect(bad).toEqual([]);
}

const providerButton = (page: Page) => page.getByRole('button', { name: `Sign in with ${new URL(issuer).host}` });

/** Clicks "Sign in with <issuer>", logs in at the provider's form, consents, and waits to be back. */
async function signInAtProvider(page: Page, login: string): Promise<void> {
  await providerButton(page).click();
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password: the development form takes any');
  await page.locator('button[type=submit]').click();
  // The provider asks for consent the first time (its development form).
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.waitForURL((url) => url.href.startsWith(service.baseUrl));
}

async function storage(page: Page): Promise<Record<string, string>> {
  // A string, evaluated in the page: this file is compiled without the DOM's types.
  return JSON.parse(await page.evaluate<string>('JSON.stringify(Object.fromEntries(Object.entries(sessionStorage)))')) as Record<string, string>;
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: npm run test:browser installs Debian's chromium`);
  const servicePort = await freePortInRange();
  let providerPort = await freePortInRange();
  while (providerPort === servicePort) providerPort = await freePortInRange();
  issuer = await startProvider(providerPort, `http://127.0.0.1:${servicePort}/console/`);
  service = await startService({
    env: {
      PORT: String(servicePort),
      AUTH_JWKS_URL: `${issuer}/jwks`,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: AUDIENCE,
      AUTH_TEAM_CLAIM: 'org.id',
      AUTH_ROLE_CLAIM: 'groups',
      AUTH_ROLE_MAP: 'key-admins:owner,developers:member',
      CONSOLE_OIDC_CLIENT_ID: CLIENT_ID,
    },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await service?.kill();
  if (provider && provider.exitCode === null) {
    const exited = new Promise((resolve) => provider.once('exit', resolve));
    provider.kill('SIGTERM');
    await exited;
  }
});

describe('signing in to the console through an OpenID Connect provider', () => {
  it('an owner signs in at the provider with the code flow and PKCE, comes back signed in as the team and role of the token, and creates a key', async () => {
    const { page, context, problems } = await open();
    await providerButton(page).waitFor();
    await accessible(page, 'sign-in-oidc');
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, 'sign-in-oidc.png'), fullPage: true, animations: 'disabled' });

    // The way out carries a PKCE challenge (S256) and a state, and never a secret.
    const [authorize] = await Promise.all([page.waitForRequest((request) => request.url().startsWith(`${issuer}/auth`)), providerButton(page).click()]);
    const query = new URL(authorize.url()).searchParams;
    expect(Object.fromEntries(query)).toMatchObject({ client_id: CLIENT_ID, response_type: 'code', code_challenge_method: 'S256', redirect_uri: `${service.baseUrl}/console/` });
    expect(query.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(query.get('state')).toMatch(/^[\w-]{20,}$/);
    expect(query.has('client_secret')).toBe(false);
    await page.locator('input[name=login]').fill('alice');
    await page.locator('input[name=password]').fill('any password');
    await page.locator('button[type=submit]').click();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL((url) => url.href.startsWith(service.baseUrl));

    await page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
    expect(await page.getByTestId('who').textContent()).toBe('alice · owner · team team-oidc');
    expect(await page.getByRole('tab').allTextContents()).toEqual(['My keys', 'Legacy keys', "Team's keys"]);

    // The round trip's verifier and state are gone; the address keeps neither the code nor the token.
    const stored = await storage(page);
    expect(stored[PENDING_KEY]).toBeUndefined();
    expect(JSON.stringify(stored)).not.toContain('code_verifier');
    const token = stored[TOKEN_KEY];
    expect(token.split('.')).toHaveLength(3);
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: issuer, aud: AUDIENCE, sub: 'alice', org: { id: 'team-oidc' } });
    const address = new URL(page.url());
    expect(address.search).toBe('');
    expect(page.url()).not.toContain(token);

    // The provider's token does what an owner may: create a key, and see it listed.
    await page.getByRole('button', { name: 'Create model access key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Access Key Name').fill('oidc-key');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await dialog.getByRole('button', { name: 'Add model access key' }).click();
    await dialog.getByTestId('secret').waitFor();
    await dialog.getByText("I've copied it").click();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByRole('row').filter({ hasText: 'oidc-key' }).waitFor();
    const listed = await api(service.baseUrl, 'GET', '/v2/gen-ai/models/api_keys?view=mine', token);
    expect(listed.status).toBe(200);
    expect(listed.body.api_key_infos).toEqual([expect.objectContaining({ name: 'oidc-key', created_by: 'alice' })]);
    await accessible(page, 'model-access-keys-oidc');

    // A reload keeps the session (the token in session storage, read with the provider's claims).
    await page.reload();
    await page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
    expect(await page.getByTestId('who').textContent()).toBe('alice · owner · team team-oidc');

    // The same provider token, pasted in another tab, is read the same way.
    const other = await open();
    await other.page.getByLabel('Bearer token').fill(token);
    await other.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await other.page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
    expect(await other.page.getByTestId('who').textContent()).toBe('alice · owner · team team-oidc');
    expect(other.problems).toEqual([]);
    await other.context.close();

    expect(problems).toEqual([]);
    await context.close();
  });

  it('a member of the provider\'s developers group comes back as a member: no Team\'s keys tab', async () => {
    const { page, context, problems } = await open();
    await signInAtProvider(page, 'bob');
    await page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
    expect(await page.getByTestId('who').textContent()).toBe('bob · member · team team-oidc');
    expect(await page.getByRole('tab').allTextContents()).toEqual(['My keys', 'Legacy keys']);
    expect((await storage(page))[PENDING_KEY]).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('a callback whose state is not the one this tab sent is refused, and the round trip is forgotten', async () => {
    const { page, context, problems } = await open();
    await providerButton(page).click();
    await page.waitForURL((url) => url.href.startsWith(issuer));
    // Back at the console with a code and a state an attacker chose.
    await page.goto(`${service.baseUrl}/console/?code=forged-code&state=forged-state&iss=${encodeURIComponent(issuer)}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/state/);
    expect((await storage(page))[PENDING_KEY]).toBeUndefined();
    expect((await storage(page))[TOKEN_KEY]).toBeUndefined();
    expect(new URL(page.url()).search).toBe('');
    await providerButton(page).waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
