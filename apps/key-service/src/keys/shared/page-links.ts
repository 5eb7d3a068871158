import type { FastifyRequest } from 'fastify';

/** DigitalOcean's paging block: `links.pages` (first, last, next, previous) and `meta`. */
export function pageLinks(request: FastifyRequest, path: string, page: number, perPage: number, total: number, extra: Record<string, string> = {}) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  const link = (p: number) => {
    const params = new URLSearchParams({ page: String(p), per_page: String(perPage), ...extra });
    return `${request.protocol}://${request.host}/${path}?${params}`;
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
