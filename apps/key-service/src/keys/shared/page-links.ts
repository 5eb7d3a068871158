/** What linkBase reads of a request: Fastify's, where ip, ips, protocol and host follow TRUST_PROXY. */
export interface LinkRequest {
  readonly ips?: readonly string[];
  readonly protocol: string;
  readonly host: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

const FORWARDED_HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * The base of absolute paging links: PUBLIC_BASE_URL when set; else, when the request came through a
 * proxy that TRUST_PROXY trusts (it sent X-Forwarded-For and X-Forwarded-Host), the forwarded scheme
 * and host; else null (relative links). Never the Host header of a client that no trusted proxy vouches for.
 */
export function linkBase(config: { readonly publicBaseUrl: string | null; readonly trustProxy: unknown }, request: LinkRequest): string | null {
  if (config.publicBaseUrl !== null) return config.publicBaseUrl;
  // request.ips holds more than the peer only when the peer is a trusted proxy that forwarded an address.
  if (config.trustProxy === false || (request.ips?.length ?? 0) < 2 || request.headers['x-forwarded-host'] === undefined) return null;
  const protocol = request.protocol;
  const host = request.host;
  if ((protocol !== 'http' && protocol !== 'https') || !FORWARDED_HOST.test(host)) return null;
  return `${protocol}://${host}`;
}

/**
 * DigitalOcean's paging block: `links.pages` (first, last, next, previous) and `meta`.
 * `base` is linkBase's: PUBLIC_BASE_URL, a trusted proxy's forwarded origin, or null for relative links
 * (path and query); never the Host header of an untrusted client, so a link can only point at this service.
 */
export function pageLinks(base: string | null, path: string, page: number, perPage: number, total: number, extra: Record<string, string> = {}) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const link = (p: number) => {
    const params = new URLSearchParams({ page: String(p), per_page: String(perPage), ...extra });
    return `${base ?? ''}/${path}?${params}`;
  };
  return {
    links: {
      pages: {
        first: link(1),
        last: link(pages),
        ...(page < pages ? { next: link(page + 1) } : {}),
        ...(page > 1 ? { previous: link(Math.min(page - 1, pages)) } : {}),
      },
    },
    meta: { page, pages, total },
  };
}
