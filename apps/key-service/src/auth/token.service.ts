import { Inject, Injectable, Logger } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
import { createHash, KeyObject, createSecretKey } from 'node:crypto';
import { JWTPayload, JWTVerifyGetKey, RemoteJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from 'jose';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { IdentityProviderConfig } from '../config/identity.config';
import { DomainError } from '../common/domain-error';
import { Principal, ROLES, Role, principalProblem } from './principal';

/** A verified token: who it names, and until when (epoch milliseconds) it may be used. */
export interface TokenSession {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

/** Tokens verified recently, so that a gateway's token is not checked again on every request. */
const VERIFIED_CACHE_SIZE = 10_000;

/** What an OpenID Connect provider may sign with (RFC 7518 names; EdDSA is Ed25519). */
export const PROVIDER_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

/**
 * The `kid` of the service's own HS256 tokens signed with `secret`: the first 96 bits of its SHA-256,
 * base64url (16 characters). It tells which secret signed a token during a rotation; it reveals
 * nothing usable, since a token's signature is already a function of the secret.
 */
export function hs256KeyId(secret: string): string {
  return `hs256-${createHash('sha256').update(secret, 'utf8').digest().subarray(0, 12).toString('base64url')}`;
}

type TokenConfig = Pick<AppConfig, 'jwtSecret' | 'maxTokenTtlSeconds'> & Partial<Pick<AppConfig, 'jwtPreviousSecrets' | 'identityProvider'>>;

/**
 * Bearer tokens carrying the principal (team, user, role), of two kinds:
 *
 * - the service's own HS256 tokens (`team_id`, `sub`, `role`), signed with AUTH_JWT_SECRET under its
 *   `kid`; those signed with a secret in AUTH_JWT_PREVIOUS_SECRETS are still accepted, so that the
 *   secret can rotate without cutting anyone off;
 * - with AUTH_JWKS_URL, RS256, ES256 and EdDSA tokens of an OpenID Connect provider, verified with
 *   `jose` against its JWK Set (cached, fetched again for an unknown `kid` at most once per
 *   AUTH_JWKS_COOLDOWN_MS), whose `iss` and `aud` must be AUTH_ISSUER and AUTH_AUDIENCE, and whose
 *   team, user and role come from the claims AUTH_TEAM_CLAIM, AUTH_USER_CLAIM, AUTH_ROLE_CLAIM through
 *   AUTH_ROLE_MAP.
 *
 * Every token has an `exp`, and lives at most AUTH_MAX_TOKEN_TTL_S seconds: a leaked token cannot be
 * used forever. Refusals are DomainErrors: UNAUTHENTICATED (401) with the reason, or FORBIDDEN (403)
 * when a provider token's role claim maps to no role.
 */
@Injectable()
export class TokenService {
  // A KeyObject made once: given a string, jsonwebtoken tries to parse it as a public key on every
  // call, which cost a third of the CPU of a command (bench:commands).
  private readonly signingKey: KeyObject;
  private readonly keyId: string;
  /** The current secret first, then the previous ones, by kid. */
  private readonly secrets: ReadonlyMap<string, Uint8Array>;
  private readonly provider: { readonly config: IdentityProviderConfig; readonly keys: JWTVerifyGetKey } | null;
  private readonly maxTtlSeconds: number;
  private readonly verified = new Map<string, TokenSession>();

  constructor(@Inject(APP_CONFIG) config: TokenConfig) {
    this.signingKey = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
    this.keyId = hs256KeyId(config.jwtSecret);
    this.secrets = new Map(
      [config.jwtSecret, ...(config.jwtPreviousSecrets ?? [])].map((secret) => [hs256KeyId(secret), new Uint8Array(Buffer.from(secret, 'utf8'))]),
    );
    const provider = config.identityProvider ?? null;
    this.provider =
      provider === null
        ? null
        : {
            config: provider,
            keys: withFailureCooldown(
              createRemoteJWKSet(new URL(provider.jwksUrl), {
                cooldownDuration: provider.jwksCooldownMs,
                cacheMaxAge: provider.jwksCacheMaxAgeMs,
                timeoutDuration: provider.jwksTimeoutMs,
              }),
              provider.jwksCooldownMs,
            ),
          };
    this.maxTtlSeconds = config.maxTokenTtlSeconds;
  }

  /** The longest lifetime, in seconds, of a token this service accepts (AUTH_MAX_TOKEN_TTL_S). */
  get maxTokenTtlSeconds(): number {
    return this.maxTtlSeconds;
  }

  /**
   * An HS256 token signed with the current AUTH_JWT_SECRET, its `kid` in the header. ttlSeconds: the
   * token's lifetime in seconds, at most maxTokenTtlSeconds. RangeError for a bad team, user or lifetime.
   */
  sign(principal: Principal, ttlSeconds = 12 * 3600): string {
    const problem = principalProblem(principal.teamId, principal.userId);
    if (problem !== null) throw new RangeError(problem.replace(/^team_id/, 'the team').replace(/^sub/, 'the user'));
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > this.maxTtlSeconds) {
      throw new RangeError(`a token's lifetime must be 1 to ${this.maxTtlSeconds} seconds (AUTH_MAX_TOKEN_TTL_S); got ${ttlSeconds}`);
    }
    return jwt.sign({ team_id: principal.teamId, role: principal.role }, this.signingKey, {
      algorithm: 'HS256',
      keyid: this.keyId,
      subject: principal.userId,
      expiresIn: ttlSeconds,
    });
  }

  /** The principal a token names; see session. */
  async verify(token: string): Promise<Principal> {
    return (await this.session(token)).principal;
  }

  /**
   * The principal a token names, with its expiry: a stream opened with it must end then. The signature
   * is checked once per token; later calls with the same token only check its expiry (a token signed
   * by a key the provider has since rotated out stays valid until its exp, as JWTs are). The cache
   * is bounded. Rejects with a DomainError (UNAUTHENTICATED or FORBIDDEN) naming the reason.
   */
  async session(token: string): Promise<TokenSession> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known.expiresAtMs) return known;
      this.verified.delete(token);
      throw new DomainError('UNAUTHENTICATED', 'token expired');
    }
    let alg: string | undefined;
    let kid: string | undefined;
    try {
      ({ alg, kid } = decodeProtectedHeader(token));
    } catch {
      throw new DomainError('UNAUTHENTICATED', 'invalid token');
    }
    const { principal, payload } =
      alg === 'HS256'
        ? await this.ownToken(token, kid)
        : this.provider !== null && (PROVIDER_ALGORITHMS as readonly string[]).includes(alg ?? '')
          ? await this.providerToken(token, this.provider)
          : unauthenticated(`invalid token: alg ${JSON.stringify(alg ?? null)} is not accepted (HS256${this.provider ? `, ${PROVIDER_ALGORITHMS.join(', ')}` : ''})`);
    const problem = principalProblem(principal.teamId, principal.userId);
    if (problem !== null) throw new DomainError('UNAUTHENTICATED', `invalid token: ${problem}`);
    const { exp, iat } = payload;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new DomainError('UNAUTHENTICATED', 'token lacks exp');
    // Both bounds: exp - iat alone would let a token claim an iat in the future and live on.
    const nowSeconds = Date.now() / 1000;
    const lifetime = Math.max(exp - nowSeconds, typeof iat === 'number' ? exp - iat : 0);
    if (lifetime > this.maxTtlSeconds) {
      throw new DomainError('UNAUTHENTICATED', `token lives longer than the ${this.maxTtlSeconds} s this service accepts (AUTH_MAX_TOKEN_TTL_S)`);
    }
    const session: TokenSession = { principal, expiresAtMs: exp * 1000 };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, session);
    return session;
  }

  /** Accepts "Bearer <token>" (and Gcore's "APIKey <token>"). */
  async fromAuthorizationHeader(header: string | undefined): Promise<Principal> {
    return (await this.sessionFromAuthorizationHeader(header)).principal;
  }

  sessionFromAuthorizationHeader(header: string | undefined): Promise<TokenSession> {
    const match = /^(?:Bearer|APIKey)\s+(\S+)$/i.exec(header ?? '');
    if (!match) return Promise.reject(new DomainError('UNAUTHENTICATED', 'missing bearer token'));
    return this.session(match[1]);
  }

  /** The service's own token: its kid names the secret; a token without one (older) is tried with each. */
  private async ownToken(token: string, kid: string | undefined): Promise<{ principal: Principal; payload: JWTPayload }> {
    const candidates = kid === undefined ? [...this.secrets.values()] : [this.secrets.get(kid)];
    let payload: JWTPayload | null = null;
    let failure: unknown = null;
    for (const secret of candidates) {
      if (secret === undefined) {
        throw new DomainError('UNAUTHENTICATED', 'invalid token: signed with a secret this service does not hold (neither AUTH_JWT_SECRET nor AUTH_JWT_PREVIOUS_SECRETS)');
      }
      try {
        payload = (await jwtVerify(token, secret, { algorithms: ['HS256'] })).payload;
        break;
      } catch (error) {
        failure = error;
        if (!(error instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    if (payload === null) throw refusal(failure, null);
    const { team_id: teamId, sub: userId, role } = payload;
    if (typeof teamId !== 'string' || typeof userId !== 'string' || !ROLES.includes(role as Role)) {
      throw new DomainError('UNAUTHENTICATED', 'token lacks team_id, sub or a known role');
    }
    return { principal: { teamId, userId, role: role as Role }, payload };
  }

  private async providerToken(token: string, provider: NonNullable<TokenService['provider']>): Promise<{ principal: Principal; payload: JWTPayload }> {
    const { config } = provider;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, provider.keys, {
        algorithms: [...PROVIDER_ALGORITHMS],
        issuer: config.issuer,
        audience: [...config.audience],
      }));
    } catch (error) {
      throw refusal(error, config);
    }
    const text = (variable: string, name: string): string => {
      const value = claimAt(payload, name);
      if (value === undefined) throw new DomainError('UNAUTHENTICATED', `token lacks the claim ${name} (${variable})`);
      if (typeof value !== 'string') throw new DomainError('UNAUTHENTICATED', `token's claim ${name} (${variable}) is not a string`);
      return value;
    };
    const teamId = text('AUTH_TEAM_CLAIM', config.teamClaim);
    const userId = text('AUTH_USER_CLAIM', config.userClaim);
    const raw = claimAt(payload, config.roleClaim);
    if (raw === undefined) throw new DomainError('UNAUTHENTICATED', `token lacks the claim ${config.roleClaim} (AUTH_ROLE_CLAIM)`);
    const names = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
    const mapped = new Set(names.map((name) => config.roleMap.get(name) ?? ((ROLES as readonly string[]).includes(name) ? (name as Role) : undefined)));
    // Several mapped roles (a user in two groups): the first in ROLES' order, owner before member before auditor.
    const role = ROLES.find((r) => mapped.has(r));
    if (role === undefined) {
      const shown = names.slice(0, 10).map((n) => JSON.stringify(n.slice(0, 64))).join(', ');
      throw new DomainError('FORBIDDEN', `token's claim ${config.roleClaim} (AUTH_ROLE_CLAIM) maps to no role of this service (AUTH_ROLE_MAP): ${shown || 'no string value'}`);
    }
    return { principal: { teamId, userId, role }, payload };
  }
}

/**
 * A claim by name: a top-level claim of that exact name first (namespaced claims such as
 * `https://example.com/roles` hold dots), else a dotted path through nested objects
 * (`realm_access.roles`). Own properties only.
 */
export function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function unauthenticated(message: string): never {
  throw new DomainError('UNAUTHENTICATED', message);
}

/** A failed fetch of the key set, as jose reports it: a timeout, a body that is no JWK Set, a network error, a non-200 answer. */
function isFetchFailure(error: unknown): boolean {
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error instanceof TypeError || (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC');
}

/**
 * jose's remote key set with a cooldown after a failed fetch too: jose waits cooldownDuration between
 * successful fetches only, so while the provider fails, every token naming an unknown kid would fetch
 * again (a review counted 57 fetches for 1,000 such requests in a second). For AUTH_JWKS_COOLDOWN_MS
 * after a failure, a token whose kid is not in the last good set (or whose set is stale) is refused at
 * once, as "could not be fetched"; the failure is logged once per cooldown.
 */
function withFailureCooldown(remote: RemoteJWKSet, cooldownMs: number, logger = new Logger('IdentityProvider')): JWTVerifyGetKey {
  let failedAt = -Infinity;
  return async (header, token) => {
    if (Date.now() - failedAt < cooldownMs) {
      const known = remote.fresh && (remote.jwks()?.keys ?? []).some((key) => key.kid === header.kid);
      if (!known) throw new errors.JOSEError('the identity provider\'s key set could not be fetched a moment ago');
    }
    try {
      return await remote(header, token);
    } catch (error) {
      if (isFetchFailure(error)) {
        if (Date.now() - failedAt >= cooldownMs) logger.warn(`the identity provider's key set (AUTH_JWKS_URL) could not be fetched: ${(error as Error).message}; trying again in ${cooldownMs} ms at the earliest`);
        failedAt = Date.now();
      }
      throw error;
    }
  };
}

/** jose's error as a 401 that says why, naming the setting when one is involved. */
function refusal(error: unknown, provider: IdentityProviderConfig | null): DomainError {
  if (error instanceof errors.JWTExpired) return new DomainError('UNAUTHENTICATED', 'token expired');
  if (error instanceof errors.JWTClaimValidationFailed) {
    const setting = error.claim === 'iss' ? ' (AUTH_ISSUER)' : error.claim === 'aud' ? ' (AUTH_AUDIENCE)' : '';
    return new DomainError('UNAUTHENTICATED', `invalid token: ${error.message}${setting}`);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return new DomainError('UNAUTHENTICATED', 'invalid token: no key of the identity provider (AUTH_JWKS_URL) has its kid');
  }
  if (provider !== null && isFetchFailure(error)) {
    return new DomainError('UNAUTHENTICATED', 'token not checked: the identity provider\'s keys (AUTH_JWKS_URL) could not be fetched');
  }
  return new DomainError('UNAUTHENTICATED', 'invalid token');
}
