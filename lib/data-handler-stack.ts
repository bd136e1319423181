import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { BatchWriter, maxConcurrencyFor } from './constructs/batch-writer';
import { Database } from './constructs/database';
import { HandlerFunction, type FunctionDefaults } from './constructs/handler-function';
import { Identity } from './constructs/identity';
import { IngestApi } from './constructs/ingest-api';
import { MonitoringSocket } from './constructs/monitoring-socket';
import { Network } from './constructs/network';
import { Observability } from './constructs/observability';
import { RecordQueue } from './constructs/record-queue';
import { SchemaMigration } from './constructs/schema-migration';

export interface DataHandlerStackProps extends StackProps {
  /** Messages per batch-writer invocation. @default 1000 */
  readonly batchSize?: number;
  /** How long the event source gathers a batch. @default Duration.seconds(1) */
  readonly batchWindow?: Duration;
  /**
   * Batch-writer invocations at once. @default - derived from `dbMaxConnections`, see
   * `maxConcurrencyFor`
   */
  readonly maxConcurrency?: number;
  /**
   * Connections the database accepts. RDS sets max_connections from memory
   * (LEAST(memory/9531392, 5000)); a t4g.micro has about 80 usable. @default 80
   */
  readonly dbMaxConnections?: number;
  /** The RDS instance type. @default t4g.micro */
  readonly dbInstanceType?: InstanceType;
  /** RDS Proxy in front of the database. @default true */
  readonly useRdsProxy?: boolean;
  /** @default false */
  readonly dbMultiAz?: boolean;
  /** @default true */
  readonly deletionProtection?: boolean;
  /** What happens to stored data (database, user pool) when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Log retention for every function and API. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** NAT gateways (see the Network construct). @default 1 */
  readonly natGateways?: number;
  /** Origins the HTTP API allows by CORS. @default ['*'] */
  readonly corsAllowOrigins?: string[];
}

/** The batch writer's timeout; the queue's visibility timeout is six times it. */
const WRITER_TIMEOUT = Duration.seconds(30);

/**
 * data-handler on AWS: HTTPS ingest into SQS, a batch writer into RDS PostgreSQL, and live
 * pushes over a WebSocket API, with Cognito identity, alarms and a dashboard.
 */
export class DataHandlerStack extends Stack {
  public readonly identity: Identity;
  public readonly queue: RecordQueue;
  public readonly database: Database;
  public readonly socket: MonitoringSocket;
  public readonly writer: BatchWriter;
  public readonly api: IngestApi;
  public readonly ingestFunction: HandlerFunction;

  constructor(scope: Construct, id: string, props: DataHandlerStackProps = {}) {
    super(scope, id, props);
    const dataRemoval = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const defaults: FunctionDefaults = { logRetention: props.logRetention ?? RetentionDays.ONE_MONTH };

    const network = new Network(this, 'Network', { natGateways: props.natGateways ?? 1 });
    this.identity = new Identity(this, 'Identity', { removalPolicy: dataRemoval });
    this.queue = new RecordQueue(this, 'Queue', { consumerTimeout: WRITER_TIMEOUT, maxReceiveCount: 5 });
    this.database = new Database(this, 'Database', {
      vpc: network.vpc,
      ...(props.dbInstanceType ? { instanceType: props.dbInstanceType } : {}),
      useProxy: props.useRdsProxy ?? true,
      multiAz: props.dbMultiAz ?? false,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: dataRemoval === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.SNAPSHOT,
    });
    new SchemaMigration(this, 'Migration', { ...defaults, vpc: network.vpc, database: this.database });

    this.socket = new MonitoringSocket(this, 'Monitoring', {
      ...defaults,
      issuerUrl: this.identity.issuerUrl,
      audience: this.identity.client.userPoolClientId,
    });
    this.writer = new BatchWriter(this, 'Writer', {
      ...defaults,
      vpc: network.vpc,
      queue: this.queue,
      database: this.database,
      socket: this.socket,
      timeout: WRITER_TIMEOUT,
      batchSize: props.batchSize ?? 1000,
      maxBatchingWindow: props.batchWindow ?? Duration.seconds(1),
      maxConcurrency: props.maxConcurrency ?? maxConcurrencyFor(props.dbMaxConnections ?? 80),
    });

    this.ingestFunction = new HandlerFunction(this, 'IngestFunction', {
      ...defaults,
      name: 'ingest',
      description: 'Validates records and puts them on the queue',
      environment: { QUEUE_URL: this.queue.queue.queueUrl },
    });
    this.queue.grantEnqueue(this.ingestFunction);
    const authToken = new HandlerFunction(this, 'AuthTokenFunction', {
      ...defaults,
      name: 'auth-token',
      description: 'Logs in with the Cognito app client',
      environment: { COGNITO_CLIENT_ID: this.identity.client.userPoolClientId },
    });
    const health = new HandlerFunction(this, 'HealthFunction', { ...defaults, name: 'health', memorySize: 128 });
    // The read functions run in the VPC beside the writer and reach the database the same way.
    const reader = (id: string, name: 'records-query' | 'swing-analyze', description: string) => {
      const fn = new HandlerFunction(this, id, {
        ...defaults,
        name,
        description,
        vpc: network.vpc,
        memorySize: 1024,
        // Just under the HTTP API's 30 s integration limit.
        timeout: Duration.seconds(29),
        environment: this.database.connectionEnvironment(),
      });
      this.database.grantConnect(fn);
      return fn;
    };
    const recordsQuery = reader('RecordsQueryFunction', 'records-query', 'Pages through stored records of a time window');
    const swingAnalyze = reader('SwingAnalyzeFunction', 'swing-analyze', 'The swing analysis of a time window');
    this.api = new IngestApi(this, 'Ingest', {
      functions: { ingest: this.ingestFunction, 'auth-token': authToken, health, 'records-query': recordsQuery, 'swing-analyze': swingAnalyze },
      issuerUrl: this.identity.issuerUrl,
      audiences: [this.identity.client.userPoolClientId],
      ...(props.corsAllowOrigins ? { corsAllowOrigins: props.corsAllowOrigins } : {}),
      accessLogRetention: defaults.logRetention!,
    });

    const observability = new Observability(this, 'Observability', { queue: this.queue, writer: this.writer.function, ingest: this.ingestFunction });

    new CfnOutput(this, 'HttpApiUrl', { value: this.api.url, description: 'POST /api/data/upload, POST /auth/token' });
    new CfnOutput(this, 'WebSocketUrl', { value: this.socket.url, description: 'Connect with ?token=<access_token>' });
    new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.identity.client.userPoolClientId });
    new CfnOutput(this, 'DashboardName', { value: observability.dashboard.dashboardName });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.queue.deadLetterQueue.queueUrl });
  }
}
