/**
 * Pushing frames to monitoring connections: who gets what, bounded concurrency, back-off on
 * throttling and transient failures, cleanup of gone connections, and a deadline inside the function's time.
 */
import { RetryablePostError } from './errors';
import { frame, recordsFrames, type StatusFrame } from './frames';
import type { Broadcaster, Connection, ConnectionRegistry } from './ports';
import type { StoredRecord } from './record';

export interface FanoutDeps {
  readonly registry: ConnectionRegistry;
  readonly broadcaster: Broadcaster;
}

export interface FanoutOptions {
  /** Posts in flight at once. */
  readonly concurrency: number;
  /** Milliseconds the invocation has left (Lambda's `context.getRemainingTimeInMillis`). */
  readonly remainingMs: () => number;
  /** Stop starting posts when less than this is left, so the function returns in time. */
  readonly reserveMs: number;
  /**
   * Attempts per frame when a post is worth retrying (429, 5xx, a timeout), the first
   * included. The management client makes one attempt per call, so this is the whole budget.
   */
  readonly maxAttempts: number;
  /** First back-off pause; it doubles each attempt, with full jitter. */
  readonly baseDelayMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly nowEpochSeconds?: () => number;
}

export const DEFAULT_FANOUT: Omit<FanoutOptions, 'remainingMs'> = {
  concurrency: 16,
  reserveMs: 1_000,
  maxAttempts: 4,
  baseDelayMs: 50,
};

/** What a fan-out did, for logs and metrics. */
export interface FanoutReport {
  connections: number;
  framesDelivered: number;
  /** Connections found gone (HTTP 410) and removed from the registry. */
  gone: number;
  /** Frames that failed after retries, or errored. */
  failed: number;
  /** Frames not attempted because the deadline came first. */
  skipped: number;
}

interface Target {
  readonly connectionId: string;
  readonly frames: readonly string[];
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Which records each connection may see: an admin all of them, anyone else only their own. */
export function recordTargets(connections: readonly Connection[], rows: readonly StoredRecord[]): Target[] {
  if (rows.length === 0) return [];
  const byUser = new Map<string, StoredRecord[]>();
  for (const row of rows) {
    const list = byUser.get(row.user_id);
    if (list) list.push(row);
    else byUser.set(row.user_id, [row]);
  }
  const framesByUser = new Map<string, string[]>();
  let adminFrames: string[] | undefined;
  const targets: Target[] = [];
  for (const c of connections) {
    let frames: string[] | undefined;
    if (c.isAdmin) {
      frames = adminFrames ??= recordsFrames(rows);
    } else {
      const own = byUser.get(c.userId);
      if (!own) continue;
      frames = framesByUser.get(c.userId);
      if (!frames) framesByUser.set(c.userId, (frames = recordsFrames(own)));
    }
    targets.push({ connectionId: c.connectionId, frames });
  }
  return targets;
}

/** Pushes newly stored rows to every connection entitled to them. */
export async function pushRecords(rows: readonly StoredRecord[], deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  if (rows.length === 0) return emptyReport();
  const connections = await deps.registry.list(nowSeconds(options));
  return pushTargets(recordTargets(connections, rows), deps, options);
}

/** Tells every admin connection about the pipeline's state (for example a failing store). */
export async function pushStatus(status: Omit<StatusFrame, 'type'>, deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  const connections = await deps.registry.list(nowSeconds(options));
  const data = frame({ type: 'status', ...status });
  return pushTargets(
    connections.filter((c) => c.isAdmin).map((c) => ({ connectionId: c.connectionId, frames: [data] })),
    deps,
    options,
  );
}

async function pushTargets(targets: readonly Target[], deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  const report: FanoutReport = { ...emptyReport(), connections: targets.length };
  const sleep = options.sleep ?? defaultSleep;
  let next = 0;

  const postWithRetry = async (connectionId: string, data: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await deps.broadcaster.post(connectionId, data);
      } catch (error) {
        if (!(error instanceof RetryablePostError) || attempt >= options.maxAttempts) throw error;
        const pause = Math.random() * options.baseDelayMs * 2 ** (attempt - 1);
        if (options.remainingMs() - pause < options.reserveMs) throw error;
        await sleep(pause);
      }
    }
  };

  const serve = async (target: Target) => {
    for (let i = 0; i < target.frames.length; i++) {
      if (options.remainingMs() < options.reserveMs) {
        report.skipped += target.frames.length - i;
        return;
      }
      try {
        if ((await postWithRetry(target.connectionId, target.frames[i]!)) === 'gone') {
          report.gone++;
          await deps.registry.remove(target.connectionId).catch(() => undefined);
          return;
        }
        report.framesDelivered++;
      } catch {
        // A frame this connection cannot take now; its later frames would arrive out of order.
        report.failed += target.frames.length - i;
        return;
      }
    }
  };

  const worker = async () => {
    while (next < targets.length) await serve(targets[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, targets.length) }, worker));
  return report;
}

function emptyReport(): FanoutReport {
  return { connections: 0, framesDelivered: 0, gone: 0, failed: 0, skipped: 0 };
}

function nowSeconds(options: FanoutOptions): number {
  return options.nowEpochSeconds ? options.nowEpochSeconds() : Math.floor(Date.now() / 1000);
}
