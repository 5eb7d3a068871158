import { Inject, Injectable } from '@nestjs/common';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { APP_CONFIG, AppConfig } from '../config/app.config';

/** Where a fault was seen: the runner reports the read models; the error filter every other write. */
export type StorageFaultSource = 'read models' | 'writes';

/**
 * Whether the stores can write, for /readyz. A fault is recorded when a write fails for a storage
 * reason (a full disk, an I/O error). The read models' fault clears with the runner's next committed
 * batch (it retries every second). A fault of the other writes clears once a probe file can be
 * written and synced in DATA_DIR again: then writes are let through, and the next one tells.
 */
@Injectable()
export class StorageHealth {
  private readonly faults = new Map<StorageFaultSource, string>();
  private lastProbe: { at: number; ok: boolean } = { at: 0, ok: false };
  private readonly probeFile: string;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.probeFile = path.join(config.dataDir, '.write-probe');
  }

  fault(source: StorageFaultSource, reason: string): void {
    this.faults.set(source, reason);
  }

  clear(source: StorageFaultSource): void {
    this.faults.delete(source);
  }

  /** null when nothing failed to write, or the disk takes writes again; else why the store cannot write. */
  async cannotWrite(): Promise<string | null> {
    if (this.faults.has('writes') && (await this.probe())) this.faults.delete('writes');
    const [first] = this.faults.entries();
    return first ? `${first[0]}: ${first[1]}` : null;
  }

  /**
   * Writes PROBE_BYTES (room for a few commits of either database) and syncs them, at most once a
   * second whatever the polling rate.
   */
  private async probe(): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastProbe.at < 1000) return this.lastProbe.ok;
    let ok = false;
    try {
      const handle = await fs.open(this.probeFile, 'w');
      try {
        const { bytesWritten } = await handle.write(Buffer.alloc(PROBE_BYTES));
        await handle.sync();
        ok = bytesWritten === PROBE_BYTES;
      } finally {
        await handle.close();
      }
    } catch {
      ok = false;
    } finally {
      await fs.rm(this.probeFile, { force: true }).catch(() => undefined);
    }
    this.lastProbe = { at: now, ok };
    return ok;
  }
}

const PROBE_BYTES = 256 * 1024;
