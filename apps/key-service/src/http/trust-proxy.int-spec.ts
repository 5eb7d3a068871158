import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

/**
 * TRUST_PROXY decides whether X-Forwarded-For, -Proto and -Host are believed: for the source IP the
 * audit records with every event, and for the origin of paging links. Requests are injected with the
 * peer address a socket would have (Fastify's inject sets the raw request's remoteAddress).
 */
describe('behind a proxy: TRUST_PROXY', () => {
  let t: TestApp;
  afterEach(() => t.close());

  /** Creates a key from `peer`, with `headers`; answers the source IP its creation event recorded. */
  const auditedSourceIp = async (peer: string, headers: Record<string, string>) => {
    const owner = t.token('team-1', '100', 'owner');
    const created = await t.app.inject({
      method: 'POST',
      url: KEYS,
      remoteAddress: peer,
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', ...headers },
      payload: JSON.stringify({ name: `k-${Math.random().toString(36).slice(2)}` }),
    });
    expect(created.statusCode).toBe(200);
    const uuid = created.json().api_key_info.uuid;
    const events = await t.call('GET', `/v1/audit/keys/${uuid}/events`, { token: t.token('team-1', '7', 'auditor') });
    return events.body.events[0].metadata.sourceIp as string;
  };
  const firstLink = async (peer: string, headers: Record<string, string>) => {
    const answer = await t.app.inject({ method: 'GET', url: `${KEYS}?per_page=1`, remoteAddress: peer, headers: { authorization: `Bearer ${t.token('team-1', '100', 'owner')}`, ...headers } });
    return answer.json().links.pages.first as string;
  };
  const forwarded = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'keys.example.com' };

  it('without TRUST_PROXY a client cannot spoof its audited IP or the links with X-Forwarded-* headers', async () => {
    t = await startTestApp();
    expect(await auditedSourceIp('198.51.100.9', forwarded)).toBe('198.51.100.9');
    expect(await firstLink('198.51.100.9', { ...forwarded, host: 'evil.example.net' })).toBe('/v2/gen-ai/models/api_keys?page=1&per_page=1');
  });

  it('with a CIDR list, a trusted proxy\'s X-Forwarded-For is audited and its forwarded origin makes the links; an untrusted peer\'s is not', async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '10.0.0.0/8' } });
    expect(await auditedSourceIp('10.1.2.3', forwarded)).toBe('203.0.113.7');
    expect(await firstLink('10.1.2.3', forwarded)).toBe('https://keys.example.com/v2/gen-ai/models/api_keys?page=1&per_page=1');
    // A client outside the range sends the same headers: ignored.
    expect(await auditedSourceIp('198.51.100.9', forwarded)).toBe('198.51.100.9');
    expect(await firstLink('198.51.100.9', forwarded)).toBe('/v2/gen-ai/models/api_keys?page=1&per_page=1');
    // A spoofed entry before the proxy's own: only the address the trusted proxy saw counts.
    expect(await auditedSourceIp('10.1.2.3', { 'x-forwarded-for': '192.0.2.66, 203.0.113.7' })).toBe('203.0.113.7');
    // A forwarded host that is not a host name gives relative links, not a broken one.
    expect(await firstLink('10.1.2.3', { ...forwarded, 'x-forwarded-host': 'a b/c' })).toBe('/v2/gen-ai/models/api_keys?page=1&per_page=1');
  });

  it('a hop count trusts that many proxies in front; PUBLIC_BASE_URL still wins for links', async () => {
    t = await startTestApp({ env: { TRUST_PROXY: '1', PUBLIC_BASE_URL: 'https://public.example.com/api' } });
    expect(await auditedSourceIp('198.51.100.9', { 'x-forwarded-for': '192.0.2.66, 203.0.113.7' })).toBe('203.0.113.7');
    expect(await firstLink('10.1.2.3', forwarded)).toBe('https://public.example.com/api/v2/gen-ai/models/api_keys?page=1&per_page=1');
  });
});
