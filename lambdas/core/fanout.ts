/**
 * Pushing frames to monitoring connections: who gets what, bounded concurrency, back-off on
 * throttling and transient failures, cleanup of gone connections, a deadline inside the
 * function's time, and no silent loss: what a connection does not get is noted, and reported
 * to it in a missed frame.
 */
import { RetryablePostError } from './errors';
import { frame, mergeMissed, recordsFrames, type Missed, type OutgoingRecords, type StatusFrame } from './frames';
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
  /**
   * The longest one post may take before it is given up (and, like any failed post, noted as
   * missed). Also never past the deadline that `reserveMs` keeps: no client, however slow to
   * answer or to read, holds the writer.
   */
  readonly postTimeoutMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly nowEpochSeconds?: () => number;
}

export const DEFAULT_FANOUT: Omit<FanoutOptions, 'remainingMs'> = {
  concurrency: 16,
  reserveMs: 1_000,
  maxAttempts: 4,
  baseDelayMs: 200,
  postTimeoutMs: 3_000,
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
  /** Connections whose lost frames were noted in the registry, owed a missed frame. */
  missedNoted: number;
  /** Connections whose lost frames could not even be noted: the caller must push again. */
  missedUnnoted: number;
  /** Missed frames delivered (to connections that were owed one). */
  missedReported: number;
}

/** One frame for a connection; `missed` says what its loss would leave missed (none for status). */
interface Outgoing {
  readonly data: string;
  readonly missed?: Missed;
}

interface Target {
  readonly connection: Connection;
  readonly frames: readonly Outgoing[];
}

/** The shortest deadline a post is given: one started at the reserve's edge still gets a chance. */
const MIN_POST_TIMEOUT_MS = 100;

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
  const framesByUser = new Map<string, OutgoingRecords[]>();
  let adminFrames: OutgoingRecords[] | undefined;
  const targets: Target[] = [];
  for (const c of connections) {
    let frames: OutgoingRecords[] | undefined;
    if (c.isAdmin) {
      frames = adminFrames ??= recordsFrames(rows);
    } else {
      const own = byUser.get(c.userId);
      if (!own) continue;
      frames = framesByUser.get(c.userId);
      if (!frames) framesByUser.set(c.userId, (frames = recordsFrames(own)));
    }
    targets.push({ connection: c, frames });
  }
  return targets;
}

/**
 * Pushes newly stored rows to every connection entitled to them. A connection owed a missed
 * frame gets it first. Frames a connection does not get (failed after retries, or past the
 * deadline) are noted on its registry item, to reach it as a missed frame with the next
 * fan-out or its next ping; `missedUnnoted` counts connections where even that failed.
 */
export async function pushRecords(rows: readonly StoredRecord[], deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  if (rows.length === 0) return emptyReport();
  const connections = await deps.registry.list(nowSeconds(options));
  const targets = recordTargets(connections, rows);
  const targeted = new Set(targets.map((t) => t.connection.connectionId));
  // Owed a missed frame but given no records this time: they get the missed frame alone.
  for (const c of connections) if (c.missed && !targeted.has(c.connectionId)) targets.push({ connection: c, frames: [] });
  return pushTargets(targets, deps, options);
}

/** Tells every admin connection about the pipeline's state (for example a failing store). */
export async function pushStatus(status: Omit<StatusFrame, 'type'>, deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  const connections = await deps.registry.list(nowSeconds(options));
  const data = frame({ type: 'status', ...status });
  return pushTargets(
    connections.filter((c) => c.isAdmin).map((c) => ({ connection: { ...c, missed: undefined }, frames: [{ data }] })),
    deps,
    options,
  );
}

/**
 * Posts a missed frame for what the connection is owed, if anything (on a ping). When the post
 * fails, the miss is noted again and the error thrown: it stays owed.
 */
export async function reportMissed(connectionId: string, deps: FanoutDeps, timeoutMs = DEFAULT_FANOUT.postTimeoutMs): Promise<'none' | 'reported' | 'gone'> {
  const owed = await deps.registry.takeMissed(connectionId);
  if (!owed) return 'none';
  try {
    if ((await deps.broadcaster.post(connectionId, missedFrame(owed), timeoutMs)) === 'gone') return 'gone';
    return 'reported';
  } catch (error) {
    await deps.registry.noteMissed(connectionId, owed);
    throw error;
  }
}

function missedFrame(missed: Missed): string {
  return frame({ type: 'missed', ...missed });
}

async function pushTargets(targets: readonly Target[], deps: FanoutDeps, options: FanoutOptions): Promise<FanoutReport> {
  const report: FanoutReport = { ...emptyReport(), connections: targets.length };
  const sleep = options.sleep ?? defaultSleep;
  const lost = new Map<string, { connection: Connection; missed: Missed }>();
  let next = 0;

  // A connection that already lost frames (it is owed a missed frame) has shown itself slow or
  // unreachable: one attempt a frame, so it cannot spend the batch's time on back-offs.
  const postWithRetry = async (connection: Connection, data: string) => {
    const attempts = connection.missed ? 1 : options.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      // A post started at the reserve's edge may take a sliver of it; the rest is for noting.
      const timeoutMs = Math.min(options.postTimeoutMs, Math.max(MIN_POST_TIMEOUT_MS, options.remainingMs() - options.reserveMs));
      try {
        return await deps.broadcaster.post(connection.connectionId, data, timeoutMs);
      } catch (error) {
        if (!(error instanceof RetryablePostError) || attempt >= attempts) throw error;
        const pause = Math.random() * options.baseDelayMs * 2 ** (attempt - 1);
        if (options.remainingMs() - pause < options.reserveMs) throw error;
        await sleep(pause);
      }
    }
  };

  const loseFrom = (target: Target, frames: readonly Outgoing[], i: number) => {
    let missed = lost.get(target.connection.connectionId)?.missed;
    for (const f of frames.slice(i)) if (f.missed) missed = mergeMissed(missed, f.missed);
    if (missed) lost.set(target.connection.connectionId, { connection: target.connection, missed });
  };

  const serve = async (target: Target) => {
    const { connectionId } = target.connection;
    let frames = target.frames;
    let owedFrame: Outgoing | undefined;
    if (target.connection.missed && options.remainingMs() >= options.reserveMs) {
      // Taken atomically: of two writers, one reports it; the other finds nothing owed.
      const owed = await deps.registry.takeMissed(connectionId).catch(() => undefined);
      if (owed) frames = [(owedFrame = { data: missedFrame(owed), missed: owed }), ...frames];
    }
    for (let i = 0; i < frames.length; i++) {
      if (options.remainingMs() < options.reserveMs) {
        report.skipped += frames.length - i;
        return loseFrom(target, frames, i);
      }
      try {
        if ((await postWithRetry(target.connection, frames[i]!.data)) === 'gone') {
          report.gone++;
          await deps.registry.remove(connectionId).catch(() => undefined);
          return;
        }
        if (frames[i] === owedFrame) report.missedReported++;
        report.framesDelivered++;
      } catch {
        // A frame this connection cannot take now; its later frames would arrive out of order.
        report.failed += frames.length - i;
        return loseFrom(target, frames, i);
      }
    }
  };

  const worker = async () => {
    while (next < targets.length) await serve(targets[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, targets.length) }, worker));

  // Noted within the reserve the deadline kept back.
  const owedList = [...lost.values()];
  let n = 0;
  const noter = async () => {
    while (n < owedList.length) {
      const { connection, missed } = owedList[n++]!;
      try {
        if (await deps.registry.noteMissed(connection.connectionId, missed, connection)) report.missedNoted++;
      } catch {
        report.missedUnnoted++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, owedList.length) }, noter));
  return report;
}

function emptyReport(): FanoutReport {
  return { connections: 0, framesDelivered: 0, gone: 0, failed: 0, skipped: 0, missedNoted: 0, missedUnnoted: 0, missedReported: 0 };
}

function nowSeconds(options: FanoutOptions): number {
  return options.nowEpochSeconds ? options.nowEpochSeconds() : Math.floor(Date.now() / 1000);
}
