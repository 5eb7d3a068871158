import { Inject, Injectable } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
import { KeyObject, createSecretKey } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { DomainError } from '../common/domain-error';
import { Principal, ROLES, Role, principalProblem } from './principal';

interface TokenClaims {
  team_id?: unknown;
  sub?: unknown;
  role?: unknown;
  exp?: unknown;
  iat?: unknown;
}

/** A verified token: who it names, and until when (epoch milliseconds) it may be used. */
export interface TokenSession {
  readonly principal: Principal;
  readonly expiresAtMs: number;
}

/** Tokens verified recently, so that a gateway's token is not checked again on every request. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * HS256 bearer tokens carrying the principal: team_id, sub (the user id) and role. Every token has an
 * `exp`, and lives at most AUTH_MAX_TOKEN_TTL_S seconds: a leaked token cannot be used forever.
 */
@Injectable()
export class TokenService {
  // A KeyObject made once: given a string, jsonwebtoken tries to parse it as a public key on every
  // call, which cost a third of the CPU of a command (bench:commands).
  private readonly key: KeyObject;
  private readonly maxTtlSeconds: number;
  private readonly verified = new Map<string, TokenSession>();

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'jwtSecret' | 'maxTokenTtlSeconds'>) {
    this.key = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
    this.maxTtlSeconds = config.maxTokenTtlSeconds;
  }

  /** The longest lifetime, in seconds, of a token this service accepts (AUTH_MAX_TOKEN_TTL_S). */
  get maxTokenTtlSeconds(): number {
    return this.maxTtlSeconds;
  }

  /** ttlSeconds: the token's lifetime in seconds, at most maxTokenTtlSeconds. */
  sign(principal: Principal, ttlSeconds = 12 * 3600): string {
    const problem = principalProblem(principal.teamId, principal.userId);
    if (problem !== null) throw new RangeError(problem.replace(/^team_id/, 'the team').replace(/^sub/, 'the user'));
    if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > this.maxTtlSeconds) {
      throw new RangeError(`a token's lifetime must be 1 to ${this.maxTtlSeconds} seconds (AUTH_MAX_TOKEN_TTL_S); got ${ttlSeconds}`);
    }
    return jwt.sign({ team_id: principal.teamId, role: principal.role }, this.key, {
      algorithm: 'HS256',
      subject: principal.userId,
      expiresIn: ttlSeconds,
    });
  }

  /**
   * The signature is checked once per token; later calls with the same token only check its expiry
   * (the signing key never changes while the process runs). The cache is bounded.
   */
  verify(token: string): Principal {
    return this.session(token).principal;
  }

  /** Like verify, with the token's expiry: a stream opened with it must end then. */
  session(token: string): TokenSession {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known.expiresAtMs) return known;
      this.verified.delete(token);
      throw new DomainError('UNAUTHENTICATED', 'token expired');
    }
    let claims: TokenClaims;
    try {
      claims = jwt.verify(token, this.key, { algorithms: ['HS256'] }) as TokenClaims;
    } catch (error) {
      const reason = error instanceof jwt.TokenExpiredError ? 'token expired' : 'invalid token';
      throw new DomainError('UNAUTHENTICATED', reason);
    }
    const { team_id: teamId, sub: userId, role, exp, iat } = claims;
    if (typeof teamId !== 'string' || typeof userId !== 'string' || !ROLES.includes(role as Role)) {
      throw new DomainError('UNAUTHENTICATED', 'token lacks team_id, sub or a known role');
    }
    const problem = principalProblem(teamId, userId);
    if (problem !== null) throw new DomainError('UNAUTHENTICATED', `invalid token: ${problem}`);
    if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new DomainError('UNAUTHENTICATED', 'token lacks exp');
    // Both bounds: exp - iat alone would let a token claim an iat in the future and live on.
    const nowSeconds = Date.now() / 1000;
    const lifetime = Math.max(exp - nowSeconds, typeof iat === 'number' ? exp - iat : 0);
    if (lifetime > this.maxTtlSeconds) {
      throw new DomainError('UNAUTHENTICATED', `token lives longer than the ${this.maxTtlSeconds} s this service accepts (AUTH_MAX_TOKEN_TTL_S)`);
    }
    const session: TokenSession = { principal: { teamId, userId, role: role as Role }, expiresAtMs: exp * 1000 };
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(token, session);
    return session;
  }

  /** Accepts "Bearer <token>" (and Gcore's "APIKey <token>"). */
  fromAuthorizationHeader(header: string | undefined): Principal {
    return this.sessionFromAuthorizationHeader(header).principal;
  }

  sessionFromAuthorizationHeader(header: string | undefined): TokenSession {
    const match = /^(?:Bearer|APIKey)\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new DomainError('UNAUTHENTICATED', 'missing bearer token');
    return this.session(match[1]);
  }
}
