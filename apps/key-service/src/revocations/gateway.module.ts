import { Module } from '@nestjs/common';
import { VerificationLookup } from '../verification/verification.lookup';
import { GatewayGrpcController } from './gateway.grpc.controller';
import { RevocationRelay } from './kafka/revocation-relay';
import { RevocationFeed } from './revocation-feed';
import { RevocationsHttpController } from './revocations.http.controller';

/**
 * What gateways use: verification from the in-memory lookup (its HTTP route is a plain Fastify route,
 * see verify-key.route.ts), and the revocation feed three ways.
 */
@Module({
  controllers: [RevocationsHttpController, GatewayGrpcController],
  providers: [VerificationLookup, RevocationFeed, RevocationRelay],
  exports: [VerificationLookup, RevocationFeed, RevocationRelay],
})
export class GatewayModule {}
