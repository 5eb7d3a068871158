import { Command } from '@nestjs/cqrs';
import { ModelAccessKey } from '../domain/model-access-key.state';

export interface ImportLegacyKeyInput {
  readonly teamId: string;
  readonly createdBy: string;
  readonly name: string;
  /** SHA-256 of the existing secret, lowercase hex: the secret itself never reaches this service. */
  readonly secretHash: string;
  readonly secretPrefix: string | null;
  readonly createdAt: string | null;
  readonly keyUuid: string | null;
}

/** Operators only (keyctl import-legacy): the one way a legacy key enters. */
export class ImportLegacyKeyCommand extends Command<ModelAccessKey> {
  constructor(readonly input: ImportLegacyKeyInput) {
    super();
  }
}
