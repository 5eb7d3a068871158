import { CallerAuthentication, VerifiedCertificate } from './caller-authentication';
import { TokenService } from './token.service';
import { Principal } from './principal';
import { DomainError } from '../common/domain-error';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const gateway: Principal = { teamId: 'platform', userId: 'gw-1', role: 'gateway' };
/** Tokens: "Bearer <team>/<role>" stands for a valid token of that principal (the token checks have specs of their own). */
const tokens = {
  sessionFromAuthorizationHeader: async (header: string) => {
    const [teamId, role] = header.replace('Bearer ', '').split('/');
    return { principal: { teamId, userId: 'someone', role } as Principal, expiresAtMs: NOW + 3_600_000 };
  },
} as unknown as TokenService;
const certificate = (validToMs: number, principal: Principal | null = gateway): VerifiedCertificate => ({ principal, validToMs });
const auth = (requireFor: string[] = []) => new CallerAuthentication(tokens, { tls: { requireClientCertFor: requireFor } } as never);
const refusal = async (run: Promise<unknown>) => {
  try {
    await run;
  } catch (error) {
    return { code: (error as DomainError).code, message: (error as Error).message };
  }
  return null;
};

describe('who is calling: token, client certificate, or both', () => {
  it('a certificate past its notAfter is no principal, even on a connection opened (or a TLS session resumed) before', async () => {
    expect((await auth().session(undefined, certificate(NOW + 1000), NOW)).principal).toEqual(gateway);
    expect(await refusal(auth().session(undefined, certificate(NOW - 1), NOW))).toEqual({ code: 'UNAUTHENTICATED', message: 'the client certificate has expired' });
    expect(await refusal(auth(['gateway']).session('Bearer platform/gateway', certificate(NOW - 1), NOW))).toMatchObject({
      code: 'FORBIDDEN',
      message: 'role gateway must connect with a verified client certificate (TLS_REQUIRE_CLIENT_CERT_FOR)',
    });
  });

  it('a token and a certificate naming different teams or roles are refused; the same team and role pass', async () => {
    expect(await refusal(auth().session('Bearer elsewhere/gateway', certificate(NOW + 1000), NOW))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await refusal(auth().session('Bearer platform/service', certificate(NOW + 1000), NOW))).toMatchObject({ code: 'FORBIDDEN' });
    expect((await auth(['gateway']).session('Bearer platform/gateway', certificate(NOW + 1000), NOW)).principal).toMatchObject({ teamId: 'platform', role: 'gateway' });
    // A certificate that names no one leaves the token in charge, unless the role needs a certificate.
    expect((await auth().session('Bearer team-1/owner', certificate(NOW + 1000, null), NOW)).principal.role).toBe('owner');
    expect(await refusal(auth(['gateway']).session('Bearer platform/gateway', certificate(NOW + 1000, null), NOW))).toMatchObject({ code: 'FORBIDDEN' });
  });
});
