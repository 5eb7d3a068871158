export * from './types';
export * from './gateway-client';
export { VerificationCache } from './verification-cache';
export { SseFeed } from './feeds/sse-feed';
export { KafkaFeed, KafkaCredentialsRefusedError, DEFAULT_REVOCATIONS_TOPIC } from './feeds/kafka-feed';
