import { randomUUID } from 'node:crypto';
import * as os from 'node:os';

/** Codes a usage record counts as denials of a key (NOT_FOUND names no key; SERVICE_UNAVAILABLE is ours). */
const DENIAL_CODES = new Set(['EXPIRED', 'VPC_DENIED', 'MODEL_NOT_ALLOWED', 'DEPLOYMENT_NOT_ALLOWED', 'BATCH_NOT_ALLOWED', 'RATE_LIMITED', 'USAGE_EXCEEDED']);

/** The key service takes at most 100 records a batch (MAX_RECORDS_PER_BATCH); more are sent in several. */
const MAX_RECORDS = 100;

/**
 * The largest count the key service takes in a usage record: each of `requests`, `input_tokens`,
 * `output_tokens` and a denial count is an integer from 0 to 10^12 (MAX_COUNT in the service's
 * apps/key-service/src/usage/usage-report.request.dto.ts, kept equal by usage-reporter.spec.ts). The
 * reporter holds each count of a record to it, so that one upstream's absurd usage cannot get a whole
 * batch, with other keys' usage, refused.
 */
export const MAX_USAGE_COUNT = 1_000_000_000_000;

/** `count + more`, held to 0..MAX_USAGE_COUNT; `more` that is not a positive finite number adds nothing, a fraction is rounded down. */
function added(count: number, more: number): number {
  return Number.isFinite(more) && more > 0 ? Math.min(MAX_USAGE_COUNT, count + Math.floor(more)) : count;
}

/** The key service's answer to a batch it will never take (a 4xx): its status and message, for the log. */
export interface UsageRefusal {
  /** `<status>: <the answer's message>`, the message cut to 200 characters. */
  readonly refused: string;
}
const REPORTABLE_MODEL = /^[^\u0000-\u001f]{1,200}$/;

interface Counts {
  key_uuid: string;
  minute: string;
  model?: string;
  requests: number;
  input_tokens: number;
  output_tokens: number;
  denials: Record<string, number>;
}

export interface UsageBatchBody {
  readonly gateway_id: string;
  readonly sequence: number;
  readonly records: readonly Counts[];
}

/**
 * A gateway's usage, summed per key, minute and model, reported to the key service in batches
 * (POST /v1/usage) every interval. A batch keeps its sequence number until the service has taken it:
 * a failed send is sent again as it was, so a retry after a lost answer is counted once. What
 * accumulates meanwhile goes in the next batch. The gateway id has a random part per process, so that
 * a restarted gateway's new sequence (from 1 again) is never taken for a retry of the old one's.
 */
export class UsageReporter {
  readonly gatewayId: string;
  private current = new Map<string, Counts>();
  private pending: UsageBatchBody | null = null;
  private sequence = 0;
  private timer: NodeJS.Timeout | null = null;
  private sending: Promise<void> | null = null;
  /** Batches the service took, and sends that failed. */
  sent = 0;
  failures = 0;

  constructor(
    /** Resolves 'taken', or a refusal when the service will never take this batch (a 4xx: it is dropped and the refusal logged); rejects to retry. */
    private readonly send: (batch: UsageBatchBody) => Promise<'taken' | UsageRefusal>,
    private readonly options: { readonly intervalMs: number; readonly gatewayId?: string; readonly onError?: (message: string) => void },
  ) {
    this.gatewayId = `${(options.gatewayId ?? `${os.hostname()}-${process.pid}`).replace(/[^A-Za-z0-9._:-]/g, '_').slice(0, 100)}:${randomUUID().slice(0, 8)}`;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.flush(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and sends what is left, once. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.flush();
  }

  /** One request let through for the key. Each count of a record stops at MAX_USAGE_COUNT. */
  request(keyUuid: string, model: string | undefined, nowMs: number): void {
    const counts = this.counts(keyUuid, model, nowMs);
    counts.requests = added(counts.requests, 1);
  }

  /** Tokens the upstream reported for one of the key's answers (whole tokens; the record's sums stop at MAX_USAGE_COUNT). */
  tokens(keyUuid: string, model: string | undefined, input: number, output: number, nowMs: number): void {
    const counts = this.counts(keyUuid, model, nowMs);
    counts.input_tokens = added(counts.input_tokens, input);
    counts.output_tokens = added(counts.output_tokens, output);
  }

  /** A denial of the key with this code (codes that name no key are not counted). */
  denial(keyUuid: string, model: string | undefined, code: string, nowMs: number): void {
    if (!DENIAL_CODES.has(code)) return;
    const denials = this.counts(keyUuid, model, nowMs).denials;
    denials[code] = added(denials[code] ?? 0, 1);
  }

  /** Sends the pending batch, or a new one of what accumulated; one send at a time. */
  flush(): Promise<void> {
    this.sending ??= this.sendOnce().finally(() => {
      this.sending = null;
    });
    return this.sending;
  }

  /** Batch after batch until everything is sent, or a send fails (then the next flush goes on). */
  private async sendOnce(): Promise<void> {
    while (await this.sendBatch()) {
      // the next batch, if any
    }
  }

  /** true: a batch was taken (or dropped as refused) and there may be more. */
  private async sendBatch(): Promise<boolean> {
    if (this.pending === null) {
      if (this.current.size === 0) return false;
      // At most the records the service takes in one batch; the rest goes in the next.
      const records: Counts[] = [];
      for (const [id, counts] of this.current) {
        if (records.length === MAX_RECORDS) break;
        records.push(counts);
        this.current.delete(id);
      }
      this.pending = { gateway_id: this.gatewayId, sequence: ++this.sequence, records };
    }
    const batch = this.pending;
    try {
      const outcome = await this.send(batch);
      if (outcome === 'taken') this.sent++;
      else this.options.onError?.(`usage report ${batch.sequence} refused by the key service (${outcome.refused}); dropped`);
      this.pending = null;
      return true;
    } catch (error) {
      this.failures++;
      this.options.onError?.(`usage report ${batch.sequence} not taken (${(error as Error).message}); sent again in ${this.options.intervalMs} ms`);
      return false;
    }
  }

  private counts(keyUuid: string, model: string | undefined, nowMs: number): Counts {
    const minuteMs = nowMs - (nowMs % 60_000);
    const id = `${keyUuid}|${minuteMs}|${model ?? ''}`;
    let counts = this.current.get(id);
    if (counts === undefined) {
      counts = { key_uuid: keyUuid, minute: new Date(minuteMs).toISOString(), requests: 0, input_tokens: 0, output_tokens: 0, denials: {} };
      // What the service takes as a model id; anything else is reported without one.
      if (model !== undefined && REPORTABLE_MODEL.test(model)) counts.model = model;
      this.current.set(id, counts);
    }
    return counts;
  }
}
