import { Duration } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import type { Database } from './database';
import { HandlerFunction, type FunctionDefaults } from './handler-function';
import type { MonitoringSocket } from './monitoring-socket';
import type { RecordQueue } from './record-queue';

/** Connections each writer instance holds at most (DATABASE_POOL_MAX): one batch at a time needs one, plus one spare. */
export const WRITER_POOL_SIZE = 2;

export interface BatchWriterProps extends FunctionDefaults {
  readonly vpc: IVpc;
  readonly queue: RecordQueue;
  readonly database: Database;
  readonly socket: MonitoringSocket;
  /** The writer's timeout (the queue's visibility timeout is six times it). */
  readonly timeout: Duration;
  /** Messages per invocation (1–10000). @default 1000 */
  readonly batchSize?: number;
  /** How long the event source gathers a batch (0–300 s). @default Duration.seconds(1) */
  readonly maxBatchingWindow?: Duration;
  /** Writer invocations at once (2–1000); derive it with `maxConcurrencyFor`. */
  readonly maxConcurrency: number;
  /** @default 1024 */
  readonly memorySize?: number;
}

/**
 * The largest event-source concurrency the database can carry: each concurrent writer holds
 * up to WRITER_POOL_SIZE connections, and `reserved` connections stay free for migrations,
 * rotation, the proxy's own checks and people. Clamped to what the event source accepts (2–1000).
 */
export function maxConcurrencyFor(maxConnections: number, reserved = 10): number {
  return Math.max(2, Math.min(1000, Math.floor((maxConnections - reserved) / WRITER_POOL_SIZE)));
}

/**
 * The batch writer: an SQS event source (batch size, batching window, partial batch failures,
 * maximum concurrency) into a function in the VPC that stores each batch in PostgreSQL and
 * pushes the new rows to monitors.
 */
export class BatchWriter extends Construct {
  public readonly function: HandlerFunction;
  public readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: BatchWriterProps) {
    super(scope, id);
    this.function = new HandlerFunction(this, 'Function', {
      ...props,
      name: 'batch-writer',
      description: 'Stores record batches in PostgreSQL and pushes them to monitors',
      memorySize: props.memorySize ?? 1024,
      timeout: props.timeout,
      vpc: props.vpc,
      environment: {
        ...props.database.connectionEnvironment(),
        DATABASE_POOL_MAX: String(WRITER_POOL_SIZE),
        CONNECTIONS_TABLE: props.socket.connections.tableName,
        CONNECTIONS_ENDPOINT: props.socket.managementEndpoint,
      },
    });
    this.eventSource = new SqsEventSource(props.queue.queue, {
      batchSize: props.batchSize ?? 1000,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
      reportBatchItemFailures: true,
      maxConcurrency: props.maxConcurrency,
    });
    this.function.addEventSource(this.eventSource);
    props.database.grantConnect(this.function);
    props.socket.grantManageConnections(this.function);
  }
}
