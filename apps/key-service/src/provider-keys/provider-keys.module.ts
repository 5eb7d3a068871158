import { Module } from '@nestjs/common';
import { Envelope } from '../crypto/envelope';
import { KeysModule } from '../keys/keys.module';
import { ProviderKeyAgentsHttpController } from './provider-key-agents.http.controller';
import { ProviderKeysHttpController } from './provider-keys.http.controller';
import { ProviderKeys } from './provider-keys.service';
import { ProviderSecretHttpController } from './provider-secret.http.controller';
import { ProviderVerifier } from './provider-verifier';

@Module({
  imports: [KeysModule],
  controllers: [ProviderKeysHttpController, ProviderKeyAgentsHttpController, ProviderSecretHttpController],
  providers: [ProviderKeys, ProviderVerifier, Envelope],
})
export class ProviderKeysModule {}
