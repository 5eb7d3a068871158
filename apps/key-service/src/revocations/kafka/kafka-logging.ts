import { Logger } from '@nestjs/common';
import { logLevel, LogEntry } from 'kafkajs';

/**
 * kafkajs logs through Nest's logger at debug level: a broker outage would otherwise print a JSON
 * line per retry. The relay and the gateway client report outages themselves, once, in plain words.
 */
export function kafkaLogCreator(context: string) {
  const logger = new Logger(context);
  return () =>
    ({ level, log }: LogEntry) => {
      if (level === logLevel.NOTHING) return;
      logger.debug(`kafkajs ${log.message}${log.error ? `: ${String(log.error)}` : ''}`);
    };
}
