import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { HandlerFunction } from './constructs/handler-function';
import { RecordQueue } from './constructs/record-queue';

export interface LocalStackStackProps extends StackProps {
  /** How the writer's Lambda container reaches PostgreSQL (the compose service by name). @default the compose file's postgres */
  readonly databaseUrl?: string;
  /** Where pushes go; LocalStack's free image has no WebSocket API. @default the local gateway on the Docker host */
  readonly connectionsEndpoint?: string;
  /** @default 100 */
  readonly batchSize?: number;
}

/**
 * What LocalStack's free image can run of the system: the queue and its DLQ, the connections
 * table, and the batch writer behind an SQS event source. The HTTP and WebSocket APIs, RDS and
 * Cognito are paid LocalStack features; against this stack they stay local (`npm start` with
 * LOCAL_SERVICES=compose) and the database is the compose file's PostgreSQL.
 */
export class LocalStackStack extends Stack {
  constructor(scope: Construct, id: string, props: LocalStackStackProps = {}) {
    super(scope, id, props);
    const timeout = Duration.seconds(30);
    const queue = new RecordQueue(this, 'Queue', { consumerTimeout: timeout, maxReceiveCount: 3 });
    const connections = new Table(this, 'Connections', {
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const writer = new HandlerFunction(this, 'Writer', {
      name: 'batch-writer',
      timeout,
      environment: {
        DATABASE_URL: props.databaseUrl ?? 'postgres://postgres:local-only-password@postgres:5432/data_handler',
        CONNECTIONS_TABLE: connections.tableName,
        CONNECTIONS_ENDPOINT: props.connectionsEndpoint ?? 'http://host.docker.internal:3001/local',
      },
    });
    writer.addEventSource(new SqsEventSource(queue.queue, { batchSize: props.batchSize ?? 100, maxBatchingWindow: Duration.seconds(1), reportBatchItemFailures: true }));
    connections.grant(writer, 'dynamodb:Scan', 'dynamodb:DeleteItem');
  }
}
