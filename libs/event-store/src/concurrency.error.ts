/** The store port's single concurrency error, whatever the adapter. */
export class ConcurrencyError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: string | number,
    readonly actual: string | number,
  ) {
    super(`Stream ${streamId} is at revision ${actual}, expected ${expected}`);
    this.name = 'ConcurrencyError';
  }
}

export function revisionMatches(expected: string | number, current: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'no_stream') return current === -1;
  return expected === current;
}
