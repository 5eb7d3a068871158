import { Controller } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import { validateInput } from '../../common/validation';
import { GrpcCall, toGrpcKeyInfo } from '../../grpc/grpc-call';
import { assertUuid } from '../shared/key-request.validators';
import { GRPC_SERVICE } from '../shared/key-routes';
import { AttachDeploymentRequest } from './attach-deployment.request.dto';
import { ChangeDeploymentCommand } from './deployment.command';

type DeploymentMessage = { uuid?: string; deployment_name?: string };

@Controller()
export class DeploymentsGrpcController {
  constructor(
    private readonly commands: CommandBus,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GRPC_SERVICE, 'AttachDeployment')
  attachDeployment(message: DeploymentMessage, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    return this.change(true, message, metadata, call);
  }

  @GrpcMethod(GRPC_SERVICE, 'DetachDeployment')
  detachDeployment(message: DeploymentMessage, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    return this.change(false, message, metadata, call);
  }

  private async change(attach: boolean, message: DeploymentMessage, metadata: Metadata, call: ServerUnaryCall<unknown, unknown>) {
    const actor = await this.grpc.principal(metadata);
    const uuid = assertUuid(message.uuid ?? '', 'uuid');
    const { deployment_name } = validateInput(AttachDeploymentRequest, { deployment_name: message.deployment_name ?? '' });
    const key = await this.commands.execute(new ChangeDeploymentCommand(attach, actor, uuid, deployment_name, this.grpc.context(metadata, call)));
    return { api_key_info: toGrpcKeyInfo(key) };
  }
}
