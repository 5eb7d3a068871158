import type { FastifyInstance, FastifyReply } from 'fastify';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TokenService } from '../auth/token.service';
import { Principal, principalProblem } from '../auth/principal';
import { DomainError } from '../common/domain-error';
import { ConsoleOidcConfig, IdentityProviderConfig } from '../config/identity.config';
import { errorBody, toErrorAnswer } from '../http/app-exception.filter';

export const CONSOLE_PATH = '/console';
export const CONSOLE_CONFIG_PATH = '/v1/console/config';
export const DEV_TOKEN_PATH = '/v1/console/dev-token';

/**
 * The two <style> elements React Aria adds to the page, allowed by their SHA-256 and nothing else:
 * react-aria's usePress (touch-action on pressable elements, against the double-tap delay) and
 * usePreventScroll (overscroll containment under an open dialog, for iOS). A new version of the library
 * that changes their text fails the browser tests (npm run test:browser watches for CSP refusals).
 */
export const REACT_ARIA_STYLE_HASHES = [
  "'sha256-38RhXrc7EdReTKsOm23ZPOCUgniTUUcjky8QOOrQx6o='",
  "'sha256-gYiS/BvZvRcK27JIXTuwhZ3hs2+VJ1X+2gUlE+farlg='",
];

/**
 * The console's pages allow nothing but this origin: no inline script, no inline style but the two
 * hashed above (React sets style properties through the CSSOM, which style-src does not govern), no
 * other origin, no framing, no plugins. connectOrigins: origins the console may also fetch from, the
 * OpenID Connect provider's (discovery and the token endpoint) when the console signs in through it.
 */
export function consoleCsp(connectOrigins: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' ${REACT_ARIA_STYLE_HASHES.join(' ')}`,
    "img-src 'self'",
    "font-src 'self'",
    ['connect-src', "'self'", ...connectOrigins].join(' '),
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** The policy without a provider: this origin only. */
export const CONSOLE_CSP = consoleCsp();

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** The roles a person signs in to the console with (gateways and services are machines). */
const CONSOLE_ROLES = ['owner', 'member', 'auditor'] as const;
/** A development token lives an hour: long enough to click through, short if it leaks from a screenshot. */
const DEV_TOKEN_TTL_SECONDS = 3600;

/**
 * Where `npm run build` puts the console (vite, apps/console/vite.config.ts): dist/console, found from
 * this file in dist/apps/key-service/src/console, or from the sources (ts-jest) under the repository root.
 */
export function defaultConsoleDir(): string {
  const candidates = [path.resolve(__dirname, '../../../../console'), path.resolve(__dirname, '../../../../dist/console')];
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0];
}

/** Every file of the built console, read once at boot: a request only picks from this map, so no path reaches the disk. */
function readFiles(dir: string): Map<string, { body: Buffer; type: string; immutable: boolean }> {
  const files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();
  if (!fs.existsSync(path.join(dir, 'index.html'))) return files;
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full).split(path.sep).join('/');
    const type = TYPES[path.extname(entry.name)];
    if (type === undefined) continue;
    // Vite names built assets by content hash: they never change under one name.
    files.set(relative, { body: fs.readFileSync(full), type, immutable: relative.startsWith('assets/') });
  }
  return files;
}

function securityHeaders(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

export interface ConsoleOptions {
  readonly dir: string;
  /** NODE_ENV is development or test: the sign-in form that picks a team, user and role is on. */
  readonly devSignIn: boolean;
  /** AUTH_JWKS_URL and friends: the console reads a provider token's team, user and role as the service does. */
  readonly identityProvider: IdentityProviderConfig | null;
  /** CONSOLE_OIDC_CLIENT_ID: the console signs in through the provider (and may fetch from its origin). */
  readonly oidc: ConsoleOidcConfig | null;
}

/** What GET /v1/console/config answers: which sign-ins the console offers, and how to read a provider's token. */
export interface ConsoleConfigAnswer {
  readonly dev_sign_in: boolean;
  readonly roles: readonly string[];
  /** Where a provider token's team, user and role are (AUTH_*_CLAIM, AUTH_ROLE_MAP); null without AUTH_JWKS_URL. */
  readonly provider_claims: { team: string; user: string; role: string; role_map: Record<string, string> } | null;
  /** The authorization-code sign-in with PKCE; null without CONSOLE_OIDC_CLIENT_ID. */
  readonly oidc: { issuer: string; client_id: string; scopes: string } | null;
}

export function consoleConfigAnswer(options: Pick<ConsoleOptions, 'devSignIn' | 'identityProvider' | 'oidc'>): ConsoleConfigAnswer {
  const provider = options.identityProvider;
  return {
    dev_sign_in: options.devSignIn,
    roles: CONSOLE_ROLES,
    // The role map is no secret from the console's user: it says what the groups in their own token mean.
    provider_claims:
      provider === null
        ? null
        : { team: provider.teamClaim, user: provider.userClaim, role: provider.roleClaim, role_map: Object.fromEntries(provider.roleMap) },
    oidc: options.oidc === null ? null : { issuer: options.oidc.issuer, client_id: options.oidc.clientId, scopes: options.oidc.scopes.join(' ') },
  };
}

/**
 * The web console (apps/console) as static files under /console, and the two routes of its sign-in:
 * what sign-in is offered, and, outside production only, a token for a chosen team, user and role
 * (what `keyctl token` prints). Everything else the console does goes through the public API.
 */
export function registerConsoleRoutes(fastify: FastifyInstance, tokens: TokenService, options: ConsoleOptions): void {
  const files = readFiles(options.dir);
  const index = files.get('index.html');
  const csp = consoleCsp(options.oidc === null ? [] : [new URL(options.oidc.issuer).origin]);
  const config = consoleConfigAnswer(options);

  const serve = (reply: FastifyReply, name: string) => {
    const file = name === '' ? index : files.get(name);
    if (file === undefined) {
      const message = index === undefined ? 'the console is not built: run npm run build' : 'no such file in the console';
      return securityHeaders(reply, csp).status(404).send(errorBody({ status: 404, code: 'NOT_FOUND', message }, String(reply.request.id)));
    }
    return securityHeaders(reply, csp)
      .header('content-type', file.type)
      .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .send(file.body);
  };

  fastify.get(CONSOLE_PATH, (_request, reply) => reply.redirect(`${CONSOLE_PATH}/`, 308));
  fastify.get(`${CONSOLE_PATH}/`, (_request, reply) => serve(reply, ''));
  fastify.get(`${CONSOLE_PATH}/*`, (request, reply) => serve(reply, (request.params as { '*': string })['*']));

  fastify.get(CONSOLE_CONFIG_PATH, (_request, reply) =>
    reply.header('cache-control', 'no-store').send(config),
  );

  if (!options.devSignIn) return;
  fastify.route({
    method: 'POST',
    url: DEV_TOKEN_PATH,
    errorHandler: (error, request, reply) => {
      const answer = toErrorAnswer(error);
      void reply.status(answer.status).send(errorBody(answer, String(request.id)));
    },
    handler: async (request, reply) => {
      const principal = devPrincipal(request.body);
      const token = tokens.sign(principal, Math.min(DEV_TOKEN_TTL_SECONDS, tokens.maxTokenTtlSeconds));
      return reply.header('cache-control', 'no-store').send({ token, team_id: principal.teamId, user_id: principal.userId, role: principal.role });
    },
  });
}

function devPrincipal(body: unknown): Principal {
  const invalid = (field: string, rule: string): never => {
    throw new DomainError('VALIDATION_FAILED', `${field} ${rule}`, { field });
  };
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return invalid('body', 'must be a JSON object');
  const { team_id: teamId, user_id: userId, role, ...rest } = body as Record<string, unknown>;
  for (const name of Object.keys(rest)) invalid(name, `should not exist (property ${name})`);
  if (typeof teamId !== 'string') return invalid('team_id', 'must be a string');
  if (typeof userId !== 'string') return invalid('user_id', 'must be a string');
  if (!(CONSOLE_ROLES as readonly unknown[]).includes(role)) return invalid('role', `must be one of ${CONSOLE_ROLES.join(', ')}`);
  const problem = principalProblem(teamId, userId);
  if (problem !== null) invalid(problem.startsWith('team_id') ? 'team_id' : 'user_id', problem.replace(/^(team_id|sub) /, ''));
  return { teamId, userId, role: role as Principal['role'] };
}
