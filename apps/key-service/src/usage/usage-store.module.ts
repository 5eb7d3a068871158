import { Module } from '@nestjs/common';
import { UsageStore } from './usage.store';

/** The usage store alone, for the key reads (api_key_info) and the usage module, without a cycle between them. */
@Module({ providers: [UsageStore], exports: [UsageStore] })
export class UsageStoreModule {}
