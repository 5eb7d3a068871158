import { Inject, Injectable } from '@nestjs/common';
import * as jwt from 'jsonwebtoken';
import { KeyObject, createSecretKey } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { DomainError } from '../common/domain-error';
import { Principal, ROLES, Role } from './principal';

interface TokenClaims {
  team_id?: unknown;
  sub?: unknown;
  role?: unknown;
  exp?: unknown;
}

/** Tokens verified recently, so that a gateway's token is not checked again on every request. */
const VERIFIED_CACHE_SIZE = 10_000;

/** HS256 bearer tokens carrying the principal: team_id, sub (the user id) and role. */
@Injectable()
export class TokenService {
  // A KeyObject made once: given a string, jsonwebtoken tries to parse it as a public key on every
  // call, which cost a third of the CPU of a command (bench:commands).
  private readonly key: KeyObject;
  private readonly verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(@Inject(APP_CONFIG) config: Pick<AppConfig, 'jwtSecret'>) {
    this.key = createSecretKey(Buffer.from(config.jwtSecret, 'utf8'));
  }

  sign(principal: Principal, ttlSeconds = 12 * 3600): string {
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
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known.expiresAtMs) return known.principal;
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
    const { team_id: teamId, sub: userId, role } = claims;
    if (typeof teamId !== 'string' || typeof userId !== 'string' || !ROLES.includes(role as Role)) {
      throw new DomainError('UNAUTHENTICATED', 'token lacks team_id, sub or a known role');
    }
    const principal: Principal = { teamId, userId, role: role as Role };
    if (typeof claims.exp === 'number') {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value as string);
      this.verified.set(token, { principal, expiresAtMs: claims.exp * 1000 });
    }
    return principal;
  }

  /** Accepts "Bearer <token>" (and Gcore's "APIKey <token>"). */
  fromAuthorizationHeader(header: string | undefined): Principal {
    const match = /^(?:Bearer|APIKey)\s+(\S+)$/i.exec(header ?? '');
    if (!match) throw new DomainError('UNAUTHENTICATED', 'missing bearer token');
    return this.verify(match[1]);
  }
}
