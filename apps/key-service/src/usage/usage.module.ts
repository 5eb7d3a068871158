import { Module } from '@nestjs/common';
import { UsageHttpController } from './usage.http.controller';
import { UsageStore } from './usage.store';

/** Usage reports from the gateways and the usage store (issue 19). */
@Module({
  controllers: [UsageHttpController],
  providers: [UsageStore],
  exports: [UsageStore],
})
export class UsageModule {}
