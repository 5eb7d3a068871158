import { IQueryHandler, QueryHandler } from '@nestjs/cqrs';
import { KeyPage, KeyViewsQuery } from '../key-views.query';
import { ListKeysQuery } from './list-keys.query';

@QueryHandler(ListKeysQuery)
export class ListKeysHandler implements IQueryHandler<ListKeysQuery> {
  constructor(private readonly views: KeyViewsQuery) {}

  async execute({ actor, view, page, perPage }: ListKeysQuery): Promise<KeyPage> {
    return this.views.list(actor, view, page, perPage);
  }
}
