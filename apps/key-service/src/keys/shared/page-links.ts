/**
 * DigitalOcean's paging block: `links.pages` (first, last, next, previous) and `meta`.
 * `base` is PUBLIC_BASE_URL, or null for relative links (path and query): never the request's Host
 * header, which any client can set, so a link can only point at this service.
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
