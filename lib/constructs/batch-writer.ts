import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { FUNCTION_POOL_SIZE, functionSpec } from '../../lambdas/functions';
import type { FunctionWiring } from './function-wiring';
import type { HandlerFunction } from './handler-function';
import type { RecordQueue } from './record-queue';

export interface BatchWriterProps {
  /**
   * Builds the writer from the catalogue; it needs what the writer's bindings name: the VPC,
   * the database (and the migration that creates its role), the record queue, the socket's
   * connections and the pipeline state.
   */
  readonly wiring: FunctionWiring;
  /** The queue the event source reads. */
  readonly queue: RecordQueue;
  /** Messages per invocation (1–10000). @default - the catalogue's batch size (lambdas/functions.ts) */
  readonly batchSize?: number;
  /** How long the event source gathers a batch (0–300 s). @default - the catalogue's batching window */
  readonly maxBatchingWindow?: Duration;
  /**
   * Writer invocations at once (2–1000); derive it with `maxConcurrencyFor`.
   * @default - no cap (the LocalStack stack's, in front of one local database)
   */
  readonly maxConcurrency?: number;
}

/**
 * Connections kept free of all functions: for migrations, rotation, the proxy's own checks and
 * people.
 */
export const DATABASE_RESERVED_CONNECTIONS = 10;

/**
 * The largest event-source concurrency the database can carry. Every writer environment holds
 * up to FUNCTION_POOL_SIZE connections (DATABASE_POOL_MAX). The reader role (records-query,
 * records-series, swing-analyze and the health probe) may hold `readerConnections` at most: its
 * PostgreSQL CONNECTION LIMIT, which the migrate function sets, so the cap holds however many
 * reader environments Lambda runs (none is reserved by default). They come off the budget first;
 * `reserved` connections stay free. What is left is the writers'. Clamped to what the event
 * source accepts (2–1000).
 *
 * @param maxConnections the database's max_connections
 * @param readerConnections the reader role's connection limit
 * @param reserved connections kept free of all functions
 */
export function maxConcurrencyFor(maxConnections: number, readerConnections = 0, reserved = DATABASE_RESERVED_CONNECTIONS): number {
  const forWriters = maxConnections - reserved - readerConnections;
  return Math.max(2, Math.min(1000, Math.floor(forWriters / FUNCTION_POOL_SIZE)));
}

/**
 * RDS Proxy's MaxConnectionsPercent for a database of `maxConnections`: all but the reserved
 * connections, so that a burst through the proxy leaves them free (it queues clients for a
 * connection instead, up to its borrow timeout). Between 1 and 100.
 */
export function proxyMaxConnectionsPercent(maxConnections: number, reserved = DATABASE_RESERVED_CONNECTIONS): number {
  return Math.max(1, Math.min(100, Math.floor((100 * (maxConnections - reserved)) / maxConnections)));
}

/**
 * The batch writer: an SQS event source (batch size, batching window, partial batch failures,
 * maximum concurrency) into a function in the VPC that stores each batch in PostgreSQL and
 * pushes the new rows to monitors. Its sizes, timeout, settings and bindings come from the
 * catalogue, through the wiring.
 */
export class BatchWriter extends Construct {
  public readonly function: HandlerFunction;
  public readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: BatchWriterProps) {
    super(scope, id);
    const { trigger } = functionSpec('batch-writer');
    if (trigger.kind !== 'queue') throw new Error('BatchWriter: the catalogue gives the batch writer no queue trigger');
    this.function = props.wiring.function(this, 'batch-writer');
    this.eventSource = new SqsEventSource(props.queue.queue, {
      batchSize: props.batchSize ?? trigger.batchSize,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(trigger.batchWindowSeconds),
      reportBatchItemFailures: trigger.reportBatchItemFailures,
      maxConcurrency: props.maxConcurrency,
    });
    this.function.addEventSource(this.eventSource);
  }
}
