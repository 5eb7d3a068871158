import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppConfig } from '../config/app.config';

export const MASTER_KEY = Symbol('MASTER_KEY');

/**
 * KEY_ENCRYPTION_KEY when set (required in production). In development a key is generated once
 * under DATA_DIR so that `npm start` needs no setup; that file sits next to the data it protects,
 * which is why it is refused in production.
 */
export function loadMasterKey(config: Pick<AppConfig, 'keyEncryptionKey' | 'dataDir'>, logger = new Logger('MasterKey')): Buffer {
  if (config.keyEncryptionKey !== null) return Buffer.from(config.keyEncryptionKey, 'base64');
  const file = path.join(config.dataDir, 'master.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
  }
  // Loud on purpose: this key sits next to the data it protects.
  logger.warn('#############################################################################');
  logger.warn(`KEY_ENCRYPTION_KEY is not set: using the DEVELOPMENT master key ${file}.`);
  logger.warn('It lies next to the data it encrypts. Never run like this in production: set');
  logger.warn('KEY_ENCRYPTION_KEY (openssl rand -base64 32) and keep it outside DATA_DIR.');
  logger.warn('#############################################################################');
  return Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
}
