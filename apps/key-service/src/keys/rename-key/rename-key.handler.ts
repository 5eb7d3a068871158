import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { canManage } from '../domain/key-access.policy';
import { normalizeNewName } from '../domain/key-input.rules';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { KeyNames } from '../shared/key-names';
import { RenameKeyCommand } from './rename-key.command';

@CommandHandler(RenameKeyCommand)
export class RenameKeyHandler implements ICommandHandler<RenameKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly names: KeyNames,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ actor, keyUuid, name, scopeChange, context }: RenameKeyCommand): Promise<ModelAccessKey> {
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    const rename = () => this.executor.execute({ type: 'RenameModelAccessKey', keyUuid, actor, name, scopeChange, now }, metadata);
    const before = await this.names.current(keyUuid);
    if (before.status !== 'active' || !before.key.uniqueName || !canManage(actor, before.key)) return rename();
    // Checked before the registry sees it: a name held there is an address in Gcore's paths.
    const newName = normalizeNewName(name, true);
    if (before.key.name === newName) return rename();
    // A key with a unique name takes the new name in the registry first and lets the old one go after.
    const { teamId, name: oldName } = before.key;
    await this.names.reserve(teamId, newName, keyUuid, now, metadata);
    let key: ModelAccessKey;
    try {
      key = await rename();
    } catch (error) {
      await this.names.release(teamId, newName, keyUuid, now, metadata);
      throw error;
    }
    await this.names.release(teamId, oldName, keyUuid, now, metadata);
    return key;
  }
}
