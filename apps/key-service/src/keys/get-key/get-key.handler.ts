import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyViewsQuery } from '../key-views.query';
import { GetKeyQuery } from './get-key.query';

@QueryHandler(GetKeyQuery)
export class GetKeyHandler implements IQueryHandler<GetKeyQuery> {
  constructor(private readonly views: KeyViewsQuery) {}

  async execute({ actor, keyUuid }: GetKeyQuery): Promise<ModelAccessKey> {
    return this.views.get(actor, keyUuid);
  }
}
