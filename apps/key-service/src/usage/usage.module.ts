import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module';
import { QuotaResetScheduler } from './quota-reset.scheduler';
import { QuotaService } from './quota.service';
import { UsageRetentionScheduler } from './usage-retention.scheduler';
import { UsageHttpController } from './usage.http.controller';
import { UsageReadGrpcController } from './usage-read.grpc.controller';
import { UsageReadHttpController } from './usage-read.http.controller';
import { UsageReads } from './usage-reads';
import { UsageStoreModule } from './usage-store.module';

/** Usage reports from the gateways, the usage store, and the quotas judged from it (issue 19). */
@Module({
  imports: [KeysModule, UsageStoreModule],
  controllers: [UsageHttpController, UsageReadHttpController, UsageReadGrpcController],
  providers: [QuotaService, QuotaResetScheduler, UsageRetentionScheduler, UsageReads],
  exports: [QuotaService],
})
export class UsageModule {}
