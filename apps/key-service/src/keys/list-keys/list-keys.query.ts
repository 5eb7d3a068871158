import { Query } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { KeyPage, KeyView } from '../key-views.query';

export class ListKeysQuery extends Query<KeyPage> {
  constructor(
    readonly actor: Principal,
    readonly view: KeyView | undefined,
    readonly page: number,
    readonly perPage: number,
  ) {
    super();
  }
}
