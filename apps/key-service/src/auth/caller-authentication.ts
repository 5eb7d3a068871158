import { Inject, Injectable } from '@nestjs/common';
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { CERTIFICATE_ROLES, CertificateRole } from '../config/tls.config';
import { DomainError } from '../common/domain-error';
import { Principal, principalProblem } from './principal';
import { TokenService, TokenSession } from './token.service';

/**
 * The identity a client certificate carries: one URI subject alternative name of the form
 * `spiffe://<trust domain>/team/<team_id>/role/<gateway|service>/user/<user_id>` (a SPIFFE ID with a
 * fixed path layout). The trust domain is not checked: TLS_CLIENT_CA_FILE, which issued the
 * certificate, is the trust anchor. team_id and user_id follow a token's rules.
 */
export const CLIENT_CERTIFICATE_URI = /^spiffe:\/\/[^/]+\/team\/([^/]+)\/role\/([^/]+)\/user\/([^/]+)$/;

/**
 * The principal a verified client certificate stands for, or null when it names none: no URI SAN of
 * the layout above, more than one, a role other than gateway or service (people use tokens), or a
 * team or user id a token could not carry either.
 */
export function principalFromCertificate(certificate: Pick<PeerCertificate, 'subjectaltname'>): Principal | null {
  const uris = (certificate.subjectaltname ?? '')
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => CLIENT_CERTIFICATE_URI.exec(entry.slice(4)))
    .filter((match): match is RegExpExecArray => match !== null);
  if (uris.length !== 1) return null;
  const [, teamId, role, userId] = uris[0];
  if (!(CERTIFICATE_ROLES as readonly string[]).includes(role) || principalProblem(teamId, userId) !== null) return null;
  return { teamId, userId, role: role as CertificateRole };
}

/** A client certificate the TLS handshake verified against TLS_CLIENT_CA_FILE. */
export interface VerifiedCertificate {
  readonly principal: Principal | null;
  /** The certificate's end of validity, epoch ms: a stream opened with it ends then. */
  readonly validToMs: number;
}

const perSocket = new WeakMap<object, VerifiedCertificate | null>();

/**
 * The verified client certificate of a connection, or null: a plain connection, no certificate, or one
 * that did not verify (with TLS_CLIENT_AUTH=request such a connection is let through, unauthorized).
 * Read once per connection.
 */
export function verifiedPeerCertificate(socket: Socket | TLSSocket | undefined | null): VerifiedCertificate | null {
  if (!socket || !(socket as TLSSocket).encrypted) return null;
  const known = perSocket.get(socket);
  if (known !== undefined) return known;
  const tlsSocket = socket as TLSSocket;
  const certificate = tlsSocket.authorized ? tlsSocket.getPeerCertificate() : null;
  const verified = certificate && certificate.raw ? fromPeerCertificate(certificate) : null;
  perSocket.set(socket, verified);
  return verified;
}

/** The same, from a certificate already verified (gRPC's auth context gives it only when the socket is authorized). */
export function fromPeerCertificate(certificate: PeerCertificate): VerifiedCertificate {
  return { principal: principalFromCertificate(certificate), validToMs: Date.parse(certificate.valid_to) };
}

/**
 * Who is calling, over HTTP or gRPC: the bearer token when one is sent (Authorization header or
 * metadata), else the verified client certificate's principal. A role named in
 * TLS_REQUIRE_CLIENT_CERT_FOR is refused (FORBIDDEN: 403, gRPC PERMISSION_DENIED) over a connection
 * without a verified client certificate, even with a valid token.
 */
@Injectable()
export class CallerAuthentication {
  private readonly requiredFor: readonly string[];

  constructor(
    private readonly tokens: TokenService,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'tls'>,
  ) {
    this.requiredFor = config.tls?.requireClientCertFor ?? [];
  }

  /**
   * Throws UNAUTHENTICATED (401) without a usable credential, FORBIDDEN (403) for a role that needs a
   * certificate it lacks, or a token and a certificate that name different teams or roles. A certificate
   * past its notAfter counts for nothing, even on a connection opened (or a TLS session resumed) before.
   */
  async session(authorization: string | undefined, certificate: VerifiedCertificate | null, now = Date.now()): Promise<TokenSession> {
    const current = certificate !== null && certificate.validToMs > now ? certificate : null;
    let session: TokenSession;
    if (authorization !== undefined && authorization !== '') {
      session = await this.tokens.sessionFromAuthorizationHeader(authorization);
      // Both name someone: they must agree, or a token stolen from one team rides on another's certificate.
      if (current?.principal && !sameTeamAndRole(current.principal, session.principal)) {
        throw new DomainError('FORBIDDEN', 'the bearer token and the client certificate name different teams or roles');
      }
    } else if (current?.principal) {
      session = { principal: current.principal, expiresAtMs: current.validToMs };
    } else if (certificate !== null && current === null) {
      throw new DomainError('UNAUTHENTICATED', 'the client certificate has expired');
    } else {
      throw new DomainError('UNAUTHENTICATED', 'missing bearer token');
    }
    const { role } = session.principal;
    if (this.requiredFor.includes(role)) {
      if (current === null) {
        throw new DomainError('FORBIDDEN', `role ${role} must connect with a verified client certificate (TLS_REQUIRE_CLIENT_CERT_FOR)`);
      }
      if (current.principal === null) {
        throw new DomainError('FORBIDDEN', `role ${role} must connect with a client certificate that names its team and role (TLS_REQUIRE_CLIENT_CERT_FOR)`);
      }
    }
    return session;
  }
}

/** The same team and role: what authorizes (a certificate's user may name the machine, the token's its account). */
function sameTeamAndRole(a: Principal, b: Principal): boolean {
  return a.teamId === b.teamId && a.role === b.role;
}
