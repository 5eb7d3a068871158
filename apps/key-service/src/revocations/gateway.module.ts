import { Module } from '@nestjs/common';
import { VerificationLookup } from '../verification/verification.lookup';
import { VerifyKeyHttpController } from '../verification/verify-key.http.controller';
import { GatewayGrpcController } from './gateway.grpc.controller';
import { RevocationRelay } from './kafka/revocation-relay';
import { RevocationFeed } from './revocation-feed';
import { RevocationsHttpController } from './revocations.http.controller';

/** What gateways use: verification from the in-memory lookup, and the revocation feed three ways. */
@Module({
  controllers: [VerifyKeyHttpController, RevocationsHttpController, GatewayGrpcController],
  providers: [VerificationLookup, RevocationFeed, RevocationRelay],
  exports: [VerificationLookup, RevocationFeed, RevocationRelay],
})
export class GatewayModule {}
