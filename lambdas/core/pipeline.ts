/**
 * The pipeline's state as an operator reads it (GET /api/pipeline/status): the queue and the
 * DLQ as SQS counts them, and what the batch writer last did, which it notes after each batch.
 */

/** The table the writer notes into: one item per note, keyed by its name. */
export const PIPELINE_STATE_TABLE = { partitionKey: 'item' } as const;

/** What the writer notes after a batch that stored records. */
export interface LastBatch {
  /** When the batch's store finished (canonical UTC). */
  readonly finished_at: string;
  /** Messages of the batch that were stored. */
  readonly messages: number;
  /** Records of those messages. */
  readonly records: number;
  /** Records new to the database; the rest were there already (a redelivery). */
  readonly inserted: number;
  readonly duplicates: number;
  /** The store's time, in ms. */
  readonly insert_ms: number;
  /** When the batch was stored minus the earliest acceptance in it: how far behind the pipeline ran. */
  readonly lag_ms: number;
}

/**
 * The note of a batch whose `stored` messages finished storing at `finishedAt` (ms), `inserted`
 * being the rows that were new: what was stored, how long it took, and how far behind acceptance
 * it ran.
 */
export function lastBatchOf(
  stored: readonly { readonly records: readonly { readonly accepted_at: string }[] }[],
  inserted: readonly { readonly stored_at: string }[],
  insertMs: number,
  finishedAt: number,
): LastBatch {
  let earliest = finishedAt;
  let records = 0;
  for (const message of stored) {
    records += message.records.length;
    // One acceptance time a message: its upload's.
    const accepted = message.records[0] ? Date.parse(message.records[0].accepted_at) : finishedAt;
    if (accepted < earliest) earliest = accepted;
  }
  const storedAt = inserted[0] ? Date.parse(inserted[0].stored_at) : finishedAt;
  return {
    finished_at: new Date(finishedAt).toISOString(),
    messages: stored.length,
    records,
    inserted: inserted.length,
    duplicates: records - inserted.length,
    insert_ms: Math.round(insertMs * 10) / 10,
    lag_ms: Math.max(0, storedAt - earliest),
  };
}

/** What the writer notes when a batch, or part of it, could not be stored. */
export interface LastFailure {
  readonly at: string;
  /** Why, in words an operator can act on (no secrets: error names and database codes only). */
  readonly reason: string;
  /** Messages that failed. */
  readonly messages: number;
  /** Of those, the messages on their last receive: they go to the dead-letter queue now. */
  readonly dead_lettered: number;
}

/** Where the writer notes its last batch and last failure, and the status function reads them. */
export interface PipelineState {
  noteBatch(batch: LastBatch): Promise<void>;
  noteFailure(failure: LastFailure): Promise<void>;
  read(): Promise<{ lastBatch: LastBatch | null; lastFailure: LastFailure | null }>;
}

/** A queue's messages, as SQS counts them (approximately). */
export interface QueueDepth {
  readonly visible: number;
  readonly in_flight: number;
  readonly delayed: number;
}

/** Reads a queue's counts. */
export interface QueueStats {
  depth(queueUrl: string): Promise<QueueDepth>;
}

/** The status answer. */
export function pipelineStatusBody(p: {
  checkedAt: string;
  queue: QueueDepth;
  deadLetters: QueueDepth;
  lastBatch: LastBatch | null;
  lastFailure: LastFailure | null;
}) {
  return {
    checked_at: p.checkedAt,
    queue: p.queue,
    dead_letter_queue: { visible: p.deadLetters.visible, in_flight: p.deadLetters.in_flight },
    last_batch: p.lastBatch,
    last_failure: p.lastFailure,
  };
}
