import AxeBuilder from '@axe-core/playwright';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, BrowserContext, Page, chromium } from 'playwright-core';
import { ProviderMock, startProviderMock } from '../support/provider-mock';
import { ROOT, ServiceProcess, api, startService } from '../support/service-process';

/**
 * The console (apps/console) in Debian's Chromium against the started service on the embedded SQLite
 * store: the flows a person clicks through, axe-core on every screen, a screenshot of each.
 */
jest.setTimeout(300_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(ROOT, process.env.CONSOLE_SCREENSHOTS ?? 'dist/console-screenshots');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let service: ServiceProcess;
let browser: Browser;
let gateway: string;
let anthropic: ProviderMock;

/** What the page reported that must not happen: CSP refusals, uncaught errors. */
interface Watched {
  page: Page;
  context: BrowserContext;
  problems: string[];
}

async function open(viewport: { width: number; height: number }): Promise<Watched> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(`${message.text()} at ${JSON.stringify(message.location())}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Nothing may leave for another origin.
  await context.route((url) => !url.href.startsWith(service.baseUrl), (route) => {
    problems.push(`request to another origin: ${route.request().url()}`);
    return route.abort();
  });
  const answer = await page.goto(`${service.baseUrl}/console/`);
  expect(answer?.status()).toBe(200);
  expect(answer?.headers()['content-security-policy']).toContain("script-src 'self'");
  await page.getByRole('heading', { name: 'Model keys console' }).first().waitFor();
  return { page, context, problems };
}

/** axe-core on what is on screen now: no serious or critical violation. */
async function accessible(page: Page, screen: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const bad = violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ screen, id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  expect(bad).toEqual([]);
}

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  // Secrets of this throwaway service are still masked: a screenshot is no place for one.
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, mask: [page.getByTestId('secret')], animations: 'disabled' });
}

async function devSignIn(page: Page, team: string, user: string, role: 'owner' | 'member' | 'auditor'): Promise<void> {
  await page.getByLabel('Team').fill(team);
  await page.getByLabel('User').fill(user);
  await page.getByRole('radio', { name: role }).check({ force: true }); // React Aria hides the input under its label
  await page.getByRole('button', { name: `Sign in as ${user}` }).click();
  await page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
}

async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Development sign-in' }).waitFor();
}

async function tabNames(page: Page): Promise<string[]> {
  return page.getByRole('tab').allTextContents();
}

const rowOf = (page: Page, name: string) => page.getByRole('row').filter({ hasText: name });

async function verify(secret: string): Promise<{ valid: boolean; code: string }> {
  const answer = await api(service.baseUrl, 'POST', '/v1/keys/verify', gateway, { key: secret });
  expect(answer.status).toBe(200);
  return answer.body;
}

/** Reads the secret the window shows, confirms it was copied, and closes the window. */
async function takeSecret(page: Page, shot?: string): Promise<string> {
  const dialog = page.getByRole('dialog');
  const secret = (await dialog.getByTestId('secret').textContent())!.trim();
  expect(secret).toMatch(/\S{20,}/);
  const close = dialog.getByRole('button', { name: 'Close' });
  expect(await close.isDisabled()).toBe(true); // not before "I've copied it"
  if (shot) {
    await accessible(page, shot);
    await screenshot(page, shot);
  }
  await dialog.getByText("I've copied it").click();
  await close.click();
  await dialog.waitFor({ state: 'detached' });
  // Shown once: gone from the page, and never in storage or the address.
  expect(await page.content()).not.toContain(secret);
  const stored = await page.evaluate('JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage), location.href])');
  expect(stored).not.toContain(secret);
  return secret;
}

async function rowAction(page: Page, keyName: string, action: 'Rename' | 'Deployments' | 'Regenerate' | 'Delete' | 'Edit'): Promise<void> {
  await page.getByRole('button', { name: `Actions for ${keyName}` }).click();
  await page.getByRole('menuitem', { name: action }).click();
}

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: npm run test:browser installs Debian's chromium`);
  anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
  service = await startService({ env: { NODE_ENV: 'development', ANTHROPIC_API_BASE_URL: anthropic.url } });
  gateway = service.token('team-1', 'gw-1', 'gateway');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await service?.kill();
  await anthropic?.close();
});

describe('the console in a browser', () => {
  it('an owner creates a key, sees its secret once, regenerates it with the name typed, renames and deletes it (1280 px)', async () => {
    const { page, context, problems } = await open(DESKTOP);
    await page.getByRole('heading', { name: 'Development sign-in' }).waitFor();
    await accessible(page, 'sign-in');
    await screenshot(page, 'sign-in');

    // A token the service refuses: its message and request id are shown.
    const forged = ['{"alg":"HS256"}', '{"team_id":"team-1","sub":"x","role":"owner","exp":4102444800}'].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.c2ln';
    await page.getByLabel('Bearer token').fill(forged);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('401');
    expect(await alert.getByTestId('request-id').textContent()).toMatch(/\S+/);
    await screenshot(page, 'sign-in-error');

    await devSignIn(page, 'team-1', 'owner-1', 'owner');
    expect(await tabNames(page)).toEqual(['My keys', 'Legacy keys', "Team's keys"]);
    await accessible(page, 'model-access-keys-empty');

    // Create: name, All models with batch, no VPC.
    await page.getByRole('button', { name: 'Create model access key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Access Key Name').fill('console-key');
    await dialog.getByRole('switch').check({ force: true }); // React Aria hides the input under its label
    await accessible(page, 'create-key');
    await screenshot(page, 'create-key');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await dialog.getByRole('radio', { name: 'No VPC network' }).waitFor();
    await screenshot(page, 'create-key-vpc');
    await dialog.getByRole('button', { name: 'Add model access key' }).click();
    const first = await takeSecret(page, 'create-key-secret');
    expect(await verify(first)).toMatchObject({ valid: true, code: 'VALID' });

    const row = rowOf(page, 'console-key');
    await row.waitFor();
    expect(await row.textContent()).toContain('Batch Inference');
    expect(await row.textContent()).toContain('No VPC network');
    await accessible(page, 'model-access-keys');
    await screenshot(page, 'model-access-keys');

    // Regenerate: the button waits for the name, the new secret is shown once, the old one is dead.
    await rowAction(page, 'console-key', 'Regenerate');
    const confirm = page.getByRole('alertdialog');
    const regenerate = confirm.getByRole('button', { name: 'Regenerate access key' });
    expect(await regenerate.isDisabled()).toBe(true);
    await confirm.getByLabel("Type the key's name to confirm").fill('console-ke');
    expect(await regenerate.isDisabled()).toBe(true);
    await confirm.getByLabel("Type the key's name to confirm").fill('console-key');
    expect(await regenerate.isDisabled()).toBe(false);
    await accessible(page, 'regenerate-key');
    await screenshot(page, 'regenerate-key');
    await regenerate.click();
    await page.getByRole('dialog').getByTestId('secret').waitFor();
    const second = await takeSecret(page);
    expect(second).not.toBe(first);
    expect(await verify(first)).toMatchObject({ valid: false });
    expect(await verify(second)).toMatchObject({ valid: true, code: 'VALID' });

    // Rename.
    await rowAction(page, 'console-key', 'Rename');
    await page.getByRole('dialog').getByLabel('Key name').fill('console-key-2');
    await page.getByRole('dialog').getByRole('button', { name: 'Update' }).click();
    await rowOf(page, 'console-key-2').waitFor();
    expect(await verify(second)).toMatchObject({ valid: true }); // a rename keeps the secret

    // Deployments: an attached key cannot be deleted, and the console shows the service's answer and request id.
    await rowAction(page, 'console-key-2', 'Deployments');
    const deployments = page.getByRole('dialog');
    await deployments.getByLabel('Deployment name').fill('llama-prod');
    await deployments.getByRole('button', { name: 'Attach' }).click();
    await deployments.getByRole('button', { name: 'Detach llama-prod' }).waitFor();
    await accessible(page, 'deployments');
    await screenshot(page, 'deployments');
    await deployments.getByRole('button', { name: 'Close', exact: true }).click();
    await deployments.waitFor({ state: 'detached' });
    expect(await rowOf(page, 'console-key-2').textContent()).toContain('llama-prod');
    await rowAction(page, 'console-key-2', 'Delete');
    const refused = page.getByRole('alertdialog');
    await refused.getByLabel("Type the key's name to confirm").fill('console-key-2');
    await refused.getByRole('button', { name: 'Delete access key' }).click();
    const conflict = refused.getByRole('alert');
    await conflict.waitFor();
    expect(await conflict.textContent()).toContain('409');
    expect(await conflict.textContent()).toContain('llama-prod');
    expect(await conflict.getByTestId('request-id').textContent()).toMatch(/\S+/);
    await accessible(page, 'delete-key-refused');
    await screenshot(page, 'delete-key-refused');
    await refused.getByRole('button', { name: 'Cancel' }).click();
    await rowAction(page, 'console-key-2', 'Deployments');
    await page.getByRole('dialog').getByRole('button', { name: 'Detach llama-prod' }).click();
    await page.getByRole('dialog').getByText('Not attached to any deployment.').waitFor();
    await page.getByRole('dialog').getByRole('button', { name: 'Close', exact: true }).click();

    // Delete, with the (new) name typed.
    await rowAction(page, 'console-key-2', 'Delete');
    const remove = page.getByRole('alertdialog');
    const button = remove.getByRole('button', { name: 'Delete access key' });
    await remove.getByLabel("Type the key's name to confirm").fill('console-key');
    expect(await button.isDisabled()).toBe(true); // the old name is not the name
    await remove.getByLabel("Type the key's name to confirm").fill('console-key-2');
    await accessible(page, 'delete-key');
    await screenshot(page, 'delete-key');
    await button.click();
    await remove.waitFor({ state: 'detached' });
    await page.getByText('Key console-key-2 deleted.').waitFor();
    await rowOf(page, 'console-key-2').waitFor({ state: 'detached' });
    expect(await verify(second)).toMatchObject({ valid: false });

    expect(problems).toEqual([]);
    await context.close();
  });

  it("a member sees no Team's keys tab; an owner sees the member's key there; an auditor changes nothing (phone width)", async () => {
    const { page, context, problems } = await open(PHONE);
    await devSignIn(page, 'team-2', 'member-1', 'member');
    expect(await tabNames(page)).toEqual(['My keys', 'Legacy keys']);

    // Select models and a VPC.
    await page.getByRole('button', { name: 'Create model access key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Access Key Name').fill('member-key');
    await dialog.getByRole('radio', { name: 'Select models' }).check({ force: true }); // React Aria hides the input under its label
    expect(await dialog.getByRole('switch').count()).toBe(0); // batch only with All models
    await dialog.getByLabel('Model ids').fill('llama3.3-70b-instruct, mistral-nemo-instruct');
    await dialog.getByRole('button', { name: 'Continue' }).click();
    await dialog.getByRole('radio', { name: 'Custom team VPC' }).check({ force: true }); // React Aria hides the input under its label
    await dialog.getByLabel('VPC uuid').fill('5a4981aa-9653-4bd1-bef5-d6bff52042e4');
    await screenshot(page, 'phone-create-key-vpc');
    await dialog.getByRole('button', { name: 'Add model access key' }).click();
    const secret = await takeSecret(page);
    expect(await verify(secret)).toMatchObject({ valid: false }); // the call names no VPC: the key is restricted to one
    await rowOf(page, 'member-key').waitFor();
    await accessible(page, 'phone-member-keys');
    await screenshot(page, 'phone-member-keys');
    await signOut(page);

    await devSignIn(page, 'team-2', 'owner-2', 'owner');
    expect(await tabNames(page)).toEqual(['My keys', 'Legacy keys', "Team's keys"]);
    expect(await rowOf(page, 'member-key').count()).toBe(0); // not under My keys
    await page.getByRole('tab', { name: "Team's keys" }).click();
    const row = rowOf(page, 'member-key');
    await row.waitFor();
    expect(await row.textContent()).toContain('member-1');
    await row.getByRole('button', { name: '2 models of member-key' }).click();
    const models = page.getByRole('dialog', { name: 'Models of member-key' });
    expect(await models.textContent()).toContain('mistral-nemo-instruct');
    await accessible(page, 'phone-teams-keys-models');
    await screenshot(page, 'phone-teams-keys-models');
    await page.keyboard.press('Escape');
    await signOut(page);

    await devSignIn(page, 'team-2', 'auditor-1', 'auditor');
    expect(await tabNames(page)).toEqual(["Team's keys", 'Legacy keys']);
    await rowOf(page, 'member-key').waitFor();
    expect(await page.getByRole('button', { name: 'Create model access key' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Actions for member-key' }).count()).toBe(0);
    await accessible(page, 'phone-auditor');
    await screenshot(page, 'phone-auditor');

    expect(problems).toEqual([]);
    await context.close();
  });

  it('at 1280 px, an owner sees the team and a member key together', async () => {
    const { page, context, problems } = await open(DESKTOP);
    await devSignIn(page, 'team-2', 'owner-2', 'owner');
    await page.getByRole('tab', { name: "Team's keys" }).click();
    await rowOf(page, 'member-key').waitFor();
    await accessible(page, 'teams-keys');
    await screenshot(page, 'teams-keys');
    expect(problems).toEqual([]);
    await context.close();
  });

  it("an auditor's point-in-time view shows the old name before a rename; the timeline shows actor, source and hashes", async () => {
    const owner = service.token('team-3', 'owner-3', 'owner');
    const created = await api(service.baseUrl, 'POST', '/v2/gen-ai/models/api_keys', owner, { name: 'before-name' });
    expect(created.status).toBe(200);
    const uuid = created.body.api_key_info.uuid;
    await new Promise((resolve) => setTimeout(resolve, 20)); // the rename is recorded at a later instant
    expect((await api(service.baseUrl, 'PUT', `/v2/gen-ai/models/api_keys/${uuid}`, owner, { name: 'after-name' })).status).toBe(200);

    const { page, context, problems } = await open(DESKTOP);
    await devSignIn(page, 'team-3', 'auditor-3', 'auditor');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('heading', { name: 'Team event log' }).waitFor();
    await page.getByRole('row').filter({ hasText: 'ModelAccessKeyRenamed' }).waitFor();
    await accessible(page, 'audit-event-log');
    await screenshot(page, 'audit-event-log');

    // The filter by type.
    await page.getByLabel('Event type').fill('ModelAccessKeyRenamed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByRole('row').filter({ hasText: 'ModelAccessKeyCreated' }).waitFor({ state: 'detached' });
    expect(await page.getByRole('grid', { name: 'Team event log' }).getByRole('row').filter({ hasText: 'ModelAccessKeyRenamed' }).count()).toBe(1);

    await page.getByRole('button', { name: new RegExp(`Timeline of key ${uuid}`) }).first().click();
    const timeline = page.getByRole('grid', { name: `Timeline of ${uuid}` });
    await timeline.getByRole('row').filter({ hasText: 'ModelAccessKeyRenamed' }).waitFor();
    expect(await page.getByTestId('chain').textContent()).toContain('Hash chain intact: 2 events');
    const createdRow = timeline.getByRole('row').filter({ hasText: 'ModelAccessKeyCreated' });
    expect(await createdRow.textContent()).toContain('owner-3 (owner)');
    expect(await createdRow.textContent()).toContain('previous none (first event)');
    await createdRow.getByRole('button', { name: /As of this event|Key as of/ }).click();
    expect(await page.getByTestId('state-name').textContent()).toBe('before-name');
    await accessible(page, 'audit-point-in-time');
    await screenshot(page, 'audit-point-in-time');
    await timeline.getByRole('row').filter({ hasText: 'ModelAccessKeyRenamed' }).getByRole('button', { name: /Key as of/ }).click();
    await page.getByTestId('state-name').getByText('after-name').waitFor();

    // A point in time typed by hand, before the key existed.
    await page.getByLabel('Point in time').fill('2020-01-01');
    await page.getByRole('button', { name: 'Show the key as it was' }).click();
    await page.getByText('The key did not exist yet.').waitFor();

    // A member reaches no audit screen.
    await signOut(page);
    await devSignIn(page, 'team-3', 'member-3', 'member');
    expect(await page.getByRole('link', { name: 'Audit' }).count()).toBe(0);

    expect(problems).toEqual([]);
    await context.close();
  });

  it('Gcore API keys: create with a deployment and no expiry, the secret once; a past-due key shows as expired; the key page; a delete refused while attached', async () => {
    const owner = service.token('team-4', 'owner-4', 'owner');
    const soon = new Date(Date.now() + 1500).toISOString();
    expect((await api(service.baseUrl, 'POST', '/cloud/v3/inference/team-4/api_keys', owner, { name: 'past-due', expires_at: soon })).status).toBe(201);

    const { page, context, problems } = await open(DESKTOP);
    await devSignIn(page, 'team-4', 'owner-4', 'owner');
    await page.getByRole('link', { name: 'Inference API keys' }).click();
    await page.getByRole('heading', { name: 'API keys', exact: true }).waitFor();

    await page.getByRole('button', { name: 'Create API key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name', { exact: true }).fill('edge-key');
    await dialog.getByLabel('Description (optional)').fill('chat app');
    await dialog.getByLabel('Add a deployment by name').fill('llama-prod');
    await dialog.getByRole('button', { name: 'Add deployment' }).click();
    expect(await dialog.getByRole('checkbox', { name: 'llama-prod' }).isChecked()).toBe(true);
    await dialog.getByRole('radio', { name: 'Never expire' }).waitFor();
    await accessible(page, 'gcore-create');
    await screenshot(page, 'gcore-create');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();
    const secret = await takeSecret(page);
    expect(await verify(secret)).toMatchObject({ valid: true });

    // The key made with a 1.5 s expiry is past due by now.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(soon) - Date.now() + 200)));
    await page.reload();
    const expired = rowOf(page, 'past-due');
    await expired.waitFor();
    expect(await expired.textContent()).toContain('Expired');
    expect(await rowOf(page, 'edge-key').textContent()).toContain('Never');
    await accessible(page, 'gcore-keys');
    await screenshot(page, 'gcore-keys');

    // Delete while attached: the 409 names the deployment.
    await rowAction(page, 'edge-key', 'Delete');
    const remove = page.getByRole('alertdialog');
    expect(await remove.textContent()).toContain('llama-prod');
    await remove.getByRole('button', { name: 'Delete API key' }).click();
    const conflict = remove.getByRole('alert');
    await conflict.waitFor();
    expect(await conflict.textContent()).toContain('409');
    expect(await conflict.textContent()).toContain('llama-prod');
    await screenshot(page, 'gcore-delete-refused');
    await remove.getByRole('button', { name: 'Cancel' }).click();

    // The key page: General, Inference instances, Expiration; detach, then the delete goes through.
    await rowAction(page, 'edge-key', 'Edit');
    const keyPage = page.getByRole('dialog');
    expect(await keyPage.getByRole('tab').allTextContents()).toEqual(['General', 'Inference instances', 'Expiration']);
    await accessible(page, 'gcore-key-page');
    await screenshot(page, 'gcore-key-page');
    await keyPage.getByRole('tab', { name: 'Inference instances' }).click();
    await keyPage.getByRole('checkbox', { name: 'llama-prod' }).uncheck({ force: true }); // React Aria hides the input under its label
    await keyPage.getByRole('button', { name: 'Save' }).click();
    await keyPage.getByText('Inference instances saved.').waitFor();
    await keyPage.getByRole('button', { name: 'Close', exact: true }).click();
    await rowAction(page, 'edge-key', 'Delete');
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete API key' }).click();
    await rowOf(page, 'edge-key').waitFor({ state: 'detached' });
    expect(await verify(secret)).toMatchObject({ valid: false });

    expect(problems).toEqual([]);
    await context.close();
  });

  it('provider keys: a key the provider rejects is refused and nothing is stored, an unreachable provider is said so, an accepted key is saved, edited and deleted with its name typed', async () => {
    const { page, context, problems } = await open(DESKTOP);
    await devSignIn(page, 'team-5', 'owner-5', 'owner');
    await page.getByRole('link', { name: 'Provider keys' }).click();
    expect(await page.getByRole('tab').allTextContents()).toEqual(['Anthropic', 'OpenAI']);

    await page.getByRole('button', { name: 'Add Anthropic key' }).click();
    const dialog = page.getByRole('dialog');
    const save = dialog.getByRole('button', { name: 'Verify and Save' });
    await dialog.getByLabel('Anthropic API key').fill('sk-ant-api03-rejected-by-the-provider');
    await dialog.getByLabel('Name', { exact: true }).fill('sk-Prod');
    expect(await dialog.getByRole('list', { name: 'Name rule' }).textContent()).toContain('does not start with sk-');
    expect(await dialog.getByText('(not met)').count()).toBeGreaterThanOrEqual(2);
    expect(await save.isDisabled()).toBe(true);
    await dialog.getByLabel('Name', { exact: true }).fill('prod-claude');
    expect(await dialog.getByText('(not met)').count()).toBe(0);
    expect(await save.isDisabled()).toBe(true); // the terms are not accepted yet
    await dialog.getByText(/I agree that this key is used on my behalf/).click();
    await accessible(page, 'provider-add');
    await screenshot(page, 'provider-add');
    await save.click();
    const refused = dialog.getByRole('alert');
    await refused.waitFor();
    expect(await refused.textContent()).toContain('422');
    expect(await refused.getByTestId('request-id').textContent()).toMatch(/\S+/);
    await screenshot(page, 'provider-rejected');

    anthropic.failWith = 500;
    await save.click();
    await dialog.getByRole('alert').getByText(/^502/).waitFor();
    anthropic.failWith = null;
    expect((await api(service.baseUrl, 'GET', '/v2/gen-ai/anthropic/keys', service.token('team-5', 'owner-5', 'owner'))).body.meta.total).toBe(0);

    const good = 'sk-ant-api03-accepted-by-the-provider-0001';
    anthropic.validKeys.add(good);
    await dialog.getByLabel('Anthropic API key').fill(good);
    await save.click();
    await dialog.waitFor({ state: 'detached' });
    await rowOf(page, 'prod-claude').waitFor();
    expect(await page.content()).not.toContain(good);
    await accessible(page, 'provider-keys');
    await screenshot(page, 'provider-keys');

    await rowAction(page, 'prod-claude', 'Edit');
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('prod-claude.v2');
    await page.getByRole('dialog').getByRole('button', { name: 'Verify and Save' }).click();
    await rowOf(page, 'prod-claude.v2').waitFor();

    // The agent platform (role service, the key's team) links two agents; the delete window names them before the name is typed.
    const owner5 = service.token('team-5', 'owner-5', 'owner');
    const keyUuid = (await api(service.baseUrl, 'GET', '/v2/gen-ai/anthropic/keys', owner5)).body.api_key_infos[0].uuid as string;
    const platform = service.token('team-5', 'agent-platform', 'service');
    const agents = ['3f0c8a52-4c8e-4d0e-9a57-0d4f7f1e2a01', '3f0c8a52-4c8e-4d0e-9a57-0d4f7f1e2a02'];
    expect((await api(service.baseUrl, 'PUT', `/v2/gen-ai/anthropic/keys/${keyUuid}/agents/${agents[0]}`, platform, { name: 'support-bot' })).status).toBe(200);
    expect((await api(service.baseUrl, 'PUT', `/v2/gen-ai/anthropic/keys/${keyUuid}/agents/${agents[1]}`, platform)).status).toBe(200);
    await rowAction(page, 'prod-claude.v2', 'Delete');
    const confirm = page.getByRole('alertdialog');
    const losing = confirm.getByTestId('agents-losing-access');
    await losing.waitFor();
    expect(await losing.textContent()).toContain('These 2 agents lose access:');
    expect(await losing.getByRole('listitem').allTextContents()).toEqual([`support-bot ${agents[0]}`, `unnamed agent ${agents[1]}`]);
    await accessible(page, 'provider-delete');
    await screenshot(page, 'provider-delete');
    const button = confirm.getByRole('button', { name: 'Delete key' });
    expect(await button.isDisabled()).toBe(true);
    await confirm.getByLabel("Type the key's name to confirm").fill('prod-claude.v2');
    await button.click();
    await rowOf(page, 'prod-claude.v2').waitFor({ state: 'detached' });

    expect(problems).toEqual([]);
    await context.close();
  });

  it('a pasted token signs in; once it expires, the console says the session ended and offers a new sign-in', async () => {
    const signed = service.keyctl('token', '--team', 'team-6', '--user', 'pasted-1', '--role', 'owner', '--ttl', '4');
    expect(signed.status).toBe(0);
    const expiresAt = Date.now() + 4000;
    const { page, context, problems } = await open(DESKTOP);
    // Machine tokens are refused: the console is for people.
    for (const role of ['gateway', 'service']) {
      await page.getByLabel('Bearer token').fill(service.token('team-6', `machine-${role}`, role as 'gateway'));
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByText(`This is a ${role} token, for machines`).waitFor();
      expect(await page.getByRole('heading', { name: 'Manage Model Access Keys' }).count()).toBe(0);
    }
    await page.getByLabel('Bearer token').fill(signed.stdout.trim());
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Manage Model Access Keys' }).waitFor();
    expect(await page.getByTestId('who').textContent()).toContain('pasted-1 · owner · team team-6');

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 1000)));
    await page.reload(); // the token is in the tab's sessionStorage: the reload uses it, and the service refuses it
    const ended = page.getByRole('region', { name: 'Your session has ended' });
    await ended.waitFor();
    expect(await ended.getByRole('alert').textContent()).toContain('token expired');
    await accessible(page, 'session-ended');
    await screenshot(page, 'session-ended');
    await ended.getByRole('button', { name: 'Sign in again' }).click();
    await page.getByRole('heading', { name: 'Sign in with a token' }).waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);

    expect(problems).toEqual([]);
    await context.close();
  });
});
