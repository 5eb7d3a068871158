import { Query } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { ModelAccessKey } from '../domain/model-access-key.state';

export class GetKeyQuery extends Query<ModelAccessKey> {
  constructor(
    readonly actor: Principal,
    readonly keyUuid: string,
  ) {
    super();
  }
}
