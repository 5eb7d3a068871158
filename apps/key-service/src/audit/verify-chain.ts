import { ChainBreak, ChainVerifier, EventStore } from '@lib/event-store';
import { SERVICE_STREAM_PREFIXES } from '../stream-categories';

export interface ChainReport {
  readonly streams: number;
  readonly events: number;
  readonly broken: ChainBreak | null;
}

const PAGE = 5000;

/**
 * Walks every event of the service's streams in global order and checks every stream's hash chain;
 * stops at the first broken link. `progress` is called every 100,000 events.
 */
export async function verifyChains(store: EventStore, progress: (events: number) => void = () => undefined): Promise<ChainReport> {
  const verifier = new ChainVerifier();
  let after = 0;
  for (;;) {
    const page = await store.readAll(after, { limit: PAGE, streamPrefixes: SERVICE_STREAM_PREFIXES });
    for (const event of page) {
      const broken = verifier.check(event);
      if (broken) return { streams: verifier.streams, events: verifier.events, broken };
      if (verifier.events % 100_000 === 0) progress(verifier.events);
    }
    if (page.length < PAGE) return { streams: verifier.streams, events: verifier.events, broken: null };
    after = page[page.length - 1].position;
  }
}

export function describeBreak(broken: ChainBreak): string {
  const what =
    broken.field === 'revision'
      ? `revision ${broken.found} follows revision ${Number(broken.expected) - 1} (an event is missing or out of place)`
      : broken.field === 'prevHash'
        ? `prev_hash is ${broken.found}, expected ${broken.expected} (the previous event was changed or replaced)`
        : `hash is ${broken.found}, expected ${broken.expected} (this event was changed after it was written)`;
  return `chain broken in stream ${broken.streamId} at revision ${broken.revision} (position ${broken.position}): ${what}`;
}
