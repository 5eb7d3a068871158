import { Module } from '@nestjs/common';
import { AuditHttpController } from './audit.http.controller';
import { AuditQuery } from './audit.query';

@Module({ controllers: [AuditHttpController], providers: [AuditQuery], exports: [AuditQuery] })
export class AuditModule {}
