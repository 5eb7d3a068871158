import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CryptoKey, JWK, JWTPayload, SignJWT, exportJWK, generateKeyPair } from 'jose';

export type ProviderAlg = 'RS256' | 'ES256' | 'EdDSA';

export interface ProviderKey {
  readonly kid: string;
  readonly alg: ProviderAlg;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/**
 * A stand-in OpenID Connect provider: a real HTTP server publishing a JWK Set (RFC 7517) at
 * `/jwks.json`, with keys made by jose at test time. `publish` replaces the served keys (a rotation);
 * `fetches` counts the requests, so a test sees when the service fetched again.
 */
export interface JwksServer {
  readonly url: string;
  readonly issuer: string;
  fetches: number;
  /** While true, /jwks.json answers 500 (a provider having an outage); fetches are still counted. */
  failing: boolean;
  newKey(alg: ProviderAlg, kid?: string): Promise<ProviderKey>;
  publish(...keys: ProviderKey[]): void;
  /** A token signed with `key` (its kid in the header), issued by `issuer`, for `audience`, living `ttlSeconds` (null: no exp). */
  sign(key: ProviderKey, claims: JWTPayload, options?: { issuer?: string; audience?: string; ttlSeconds?: number | null; iatOffsetSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export const AUDIENCE = 'model-keys';

export async function startJwksServer(): Promise<JwksServer> {
  let served: JWK[] = [];
  const server = http.createServer((request, response) => {
    if (request.url !== '/jwks.json') {
      response.writeHead(404).end();
      return;
    }
    self.fetches += 1;
    if (self.failing) {
      response.writeHead(500, { 'content-type': 'text/plain' }).end('outage');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let counter = 0;
  const self: JwksServer = {
    url: `${origin}/jwks.json`,
    issuer: `${origin}/realms/test`,
    fetches: 0,
    failing: false,
    async newKey(alg, kid = `${alg.toLowerCase()}-${++counter}`) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
      return { kid, alg, privateKey, jwk };
    },
    publish(...keys) {
      served = keys.map((k) => k.jwk);
    },
    async sign(key, claims, { issuer = self.issuer, audience = AUDIENCE, ttlSeconds = 300, iatOffsetSeconds = 0 } = {}) {
      const iat = Math.floor(Date.now() / 1000) + iatOffsetSeconds;
      const token = new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).setIssuer(issuer).setAudience(audience).setIssuedAt(iat);
      return (ttlSeconds === null ? token : token.setExpirationTime(iat + ttlSeconds)).sign(key.privateKey);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return self;
}
