export * from './event-store.port';
export * from './concurrency.error';
export * from './keyed-mutex';
export * from './in-memory.event-store';
export * from './sqlite.event-store';
export * from './event-follower';
export * from './command-handling';
export * from './event-hash';
