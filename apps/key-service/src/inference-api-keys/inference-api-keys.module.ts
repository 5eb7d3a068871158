import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { InferenceApiKeysHttpController } from './inference-api-keys.http.controller';
import { InferenceApiKeys } from './inference-api-keys.service';

@Module({
  imports: [KeysModule],
  controllers: [InferenceApiKeysHttpController],
  providers: [InferenceApiKeys],
})
export class InferenceApiKeysModule {}
