export * from './types';
export * from './gateway-client';
export { VerificationCache } from './verification-cache';
export { SseFeed } from './feeds/sse-feed';
export { KafkaFeed, KafkaCredentialsRefusedError, DEFAULT_REVOCATIONS_TOPIC } from './feeds/kafka-feed';
export { StaticTokenSource, FileTokenSource, ClientCredentialsTokenSource, tokenTimes } from './credentials/token-sources';
export type { TokenSource, ClientCredentialsOptions } from './credentials/token-sources';
