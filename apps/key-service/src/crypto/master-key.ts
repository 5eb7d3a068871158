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
  const text = fs.readFileSync(file, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  // A damaged file (truncated on a full disk, edited) would otherwise pass as another key.
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text) || key.length !== 32) {
    throw new Error(
      `${file} is not a master key (32 bytes in base64). Nothing can rebuild it: restore it from a backup, ` +
        'or set KEY_ENCRYPTION_KEY to the key it held',
    );
  }
  return key;
}
