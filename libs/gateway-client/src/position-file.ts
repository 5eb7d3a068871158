import * as fs from 'node:fs';
import * as path from 'node:path';

/** The feed position across restarts: written atomically (temp file + rename), at most every `everyMs`. */
export class PositionFile {
  private pending: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly file: string,
    private readonly everyMs = 200,
  ) {}

  read(): number | null {
    try {
      const value = Number(JSON.parse(fs.readFileSync(this.file, 'utf8')).position);
      return Number.isSafeInteger(value) && value >= 0 ? value : null;
    } catch {
      return null;
    }
  }

  write(position: number): void {
    this.pending = position;
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.everyMs);
    this.timer.unref();
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending === null) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify({ position: this.pending, saved_at: new Date().toISOString() }));
    fs.renameSync(temp, this.file);
    this.pending = null;
  }
}
