import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { QUEUE_MAX_RECEIVE_COUNT, WRITER_EVENT_SOURCE, WRITER_TIMEOUT_SECONDS } from '../lambdas/functions';
import { PIPELINE_STATE_TABLE } from '../lambdas/core/pipeline';
import { LOCAL_RESOURCE_NAMES } from '../local/resource-names';
import { HandlerFunction } from './constructs/handler-function';
import { RecordQueue } from './constructs/record-queue';

/**
 * The name under which Lambda containers reach the Docker host. Linux containers resolve it only
 * through the compose file's `LAMBDA_DOCKER_FLAGS` (`--add-host=host.docker.internal:host-gateway`);
 * Docker Desktop resolves it by itself.
 */
export const DOCKER_HOST_NAME = 'host.docker.internal';

/** The local WebSocket gateway's management API on `port` of the Docker host, as the writer's container sees it. */
export function dockerHostConnectionsEndpoint(port: number): string {
  return `http://${DOCKER_HOST_NAME}:${port}/local`;
}

/** The compose file's PostgreSQL, by service name on the compose network (local-only credentials). */
const COMPOSE_NETWORK_DATABASE_URL = 'postgres://postgres:local-only-password@postgres:5432/data_handler';

export interface LocalStackStackProps extends StackProps {
  /**
   * How the writer's Lambda container reaches PostgreSQL.
   * @default the compose file's postgres service, by name on the compose network
   */
  readonly databaseUrl?: string;
  /**
   * Where pushes go; LocalStack's free image has no WebSocket API, so this is the local
   * gateway's management API on the Docker host.
   * @default dockerHostConnectionsEndpoint(3001), the gateway's default WS_PORT
   */
  readonly connectionsEndpoint?: string;
  /** @default the catalogue's batch size for the batch writer */
  readonly batchSize?: number;
}

/**
 * What LocalStack's free image can run of the system: the queue and its DLQ, the connections
 * table, and the batch writer behind an SQS event source. The HTTP and WebSocket APIs, RDS and
 * Cognito are paid LocalStack features; against this stack they stay local (`npm start` with
 * LOCAL_SERVICES=compose) and the database is the compose file's PostgreSQL.
 *
 * The queue, DLQ and table carry the fixed names that `npm start` sends to
 * (local/resource-names.ts), so its ingest feeds this writer and its gateway's connections are
 * the ones the writer pushes to. The writer stays arm64, as on AWS: its bundle is plain
 * JavaScript, and the compose file sets LAMBDA_IGNORE_ARCHITECTURE so LocalStack runs it on the
 * host's own architecture instead of emulating arm64 on an x86 host.
 */
export class LocalStackStack extends Stack {
  constructor(scope: Construct, id: string, props: LocalStackStackProps = {}) {
    super(scope, id, props);
    const timeout = Duration.seconds(WRITER_TIMEOUT_SECONDS);
    // Three receives before the DLQ, as `npm start` provisions it (LocalConfig MAX_RECEIVE_COUNT).
    const queue = new RecordQueue(this, 'Queue', { consumerTimeout: timeout, maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT });
    // RecordQueue takes no names (on AWS they are generated); only this local stack fixes them.
    (queue.queue.node.defaultChild as CfnQueue).queueName = LOCAL_RESOURCE_NAMES.queue;
    (queue.deadLetterQueue.node.defaultChild as CfnQueue).queueName = LOCAL_RESOURCE_NAMES.deadLetterQueue;
    const connections = new Table(this, 'Connections', {
      tableName: LOCAL_RESOURCE_NAMES.connectionsTable,
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The writer's notes for the local stack's GET /api/pipeline/status (npm start provisions the
    // same name on LocalStack when this stack has not).
    const pipelineState = new Table(this, 'PipelineState', {
      tableName: LOCAL_RESOURCE_NAMES.pipelineStateTable,
      partitionKey: { name: PIPELINE_STATE_TABLE.partitionKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const writer = new HandlerFunction(this, 'Writer', {
      name: 'batch-writer',
      timeout,
      environment: {
        DATABASE_URL: props.databaseUrl ?? COMPOSE_NETWORK_DATABASE_URL,
        CONNECTIONS_TABLE: connections.tableName,
        CONNECTIONS_ENDPOINT: props.connectionsEndpoint ?? dockerHostConnectionsEndpoint(3001),
        QUEUE_MAX_RECEIVE_COUNT: String(queue.maxReceiveCount),
        PIPELINE_STATE_TABLE: pipelineState.tableName,
      },
    });
    writer.addEventSource(
      new SqsEventSource(queue.queue, {
        batchSize: props.batchSize ?? WRITER_EVENT_SOURCE.batchSize,
        maxBatchingWindow: Duration.seconds(WRITER_EVENT_SOURCE.batchWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
    connections.grant(writer, 'dynamodb:Scan', 'dynamodb:DeleteItem');
    pipelineState.grant(writer, 'dynamodb:PutItem');
  }
}
