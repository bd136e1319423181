import { CfnOutput, Duration, Lazy, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { InstanceType } from 'aws-cdk-lib/aws-ec2';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { QUEUE_MAX_RECEIVE_COUNT, RECORD_READERS, WRITER_TIMEOUT_SECONDS, type FunctionSpec } from '../lambdas/functions';
import { readEnv, RetentionSettings, retentionProblem, retentionVariables } from '../lambdas/shared/env';
import { ApiGatewayAccount } from './constructs/api-gateway-account';
import { checkProxyZones } from './constructs/availability-zones';
import { BatchWriter, maxConcurrencyFor, proxyMaxConnectionsPercent } from './constructs/batch-writer';
import { DashboardSite } from './constructs/dashboard-site';
import { Database } from './constructs/database';
import { DeletionProtection } from './constructs/deletion-protection';
import { FunctionWiring, type FunctionOptions } from './constructs/function-wiring';
import type { HandlerFunction } from './constructs/handler-function';
import { Identity } from './constructs/identity';
import { IngestApi } from './constructs/ingest-api';
import { IdempotencyKeys } from './constructs/idempotency-keys';
import { LoginAttempts } from './constructs/login-attempts';
import { MonitoringSocket } from './constructs/monitoring-socket';
import { Network, type NetworkProps } from './constructs/network';
import { Observability } from './constructs/observability';
import { PipelineState } from './constructs/pipeline-state';
import { RecordQueue } from './constructs/record-queue';
import { Maintenance } from './constructs/maintenance';
import { SchemaMigration } from './constructs/schema-migration';

export interface DataHandlerStackProps extends StackProps {
  /** Messages per batch-writer invocation. @default - the catalogue's (lambdas/functions.ts): 1000 */
  readonly batchSize?: number;
  /** How long the event source gathers a batch. @default - the catalogue's: 1 s */
  readonly batchWindow?: Duration;
  /**
   * Batch-writer invocations at once. @default - derived from `dbMaxConnections` and
   * `readerConnections`, see `maxConcurrencyFor`
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
  /**
   * RDS deletion protection, switched on once everything else in the stack exists (never while
   * a first create can still roll back). @default true
   */
  readonly deletionProtection?: boolean;
  /** The PostgreSQL version, a 17.x minor version; raise it to upgrade. @default DEFAULT_ENGINE_VERSION (17.9) */
  readonly dbEngineVersion?: string;
  /** What happens to stored data (database, user pool) when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Log retention of every log group: functions, APIs, flow logs, PostgreSQL, rotation. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** NAT gateways (see the Network construct). @default 1 */
  readonly natGateways?: number;
  /**
   * The zones the VPC spans, by ID (`use1-az1`). @default - see the Network construct: zone IDs
   * that RDS Proxy supports in regions where it is missing from a zone, else three zones
   */
  readonly availabilityZoneIds?: string[];
  /** The zones the VPC spans, by name (needs a stack with a concrete account and region). @default - see availabilityZoneIds */
  readonly availabilityZones?: string[];
  /**
   * Create the account-level API Gateway CloudWatch Logs role (`AWS::ApiGateway::Account`) that
   * WebSocket stages with access logs need. Turn it off where the account already manages it.
   * @default true
   */
  readonly apiGatewayAccountRole?: boolean;
  /**
   * Connections the reader role may hold at once: its PostgreSQL CONNECTION LIMIT, shared by the
   * reader functions (records-query, records-series, swing-analyze) and the health probe. The
   * writer's concurrency is derived around it. @default 15
   */
  readonly readerConnections?: number;
  /**
   * Concurrent executions reserved for each record reader (RECORD_READERS in the catalogue, not
   * the health probe). Opt-in: Lambda keeps 100 of the account's concurrency unreserved, so any
   * reservation needs a quota of at least 100 plus the reservations (new accounts may start at
   * 10), and `npm run deploy` checks it first. The connection budget does not depend on it (see
   * `readerConnections`). @default - none reserved
   */
  readonly readerConcurrency?: number;
  /** Days of raw records kept; older partitions are dropped whole. @default - kept forever */
  readonly retentionDays?: number;
  /** Days of rollups kept; at least `retentionDays`. @default - kept forever */
  readonly rollupRetentionDays?: number;
  /** The size of one partition of records: whole hours or days, such as `1d` or `6h`. @default '1d' */
  readonly partitionSize?: string;
  /** Where alarms are sent by email. @default - no subscription: subscribe to the AlarmTopicArn output */
  readonly alarmEmail?: string;
  /**
   * Host the monitoring dashboard (web/) on CloudFront, with a generated config.json; the HTTP
   * API then allows the dashboard's origin by CORS. @default true
   */
  readonly dashboard?: boolean;
  /**
   * Origins the HTTP API allows by CORS besides the hosted dashboard's; `['*']` allows any page.
   * @default - none: only the hosted dashboard (no cross-origin access when `dashboard` is false)
   */
  readonly corsAllowOrigins?: string[];
}

/**
 * data-handler on AWS: HTTPS ingest into SQS, a batch writer into RDS PostgreSQL, and live
 * pushes over a WebSocket API, with Cognito identity, alarms and a dashboard. Every function is
 * built from its catalogue entry (lambdas/functions.ts) by one FunctionWiring, which turns its
 * bindings into variables, grants and network access.
 */
export class DataHandlerStack extends Stack {
  public readonly identity: Identity;
  public readonly queue: RecordQueue;
  public readonly database: Database;
  public readonly socket: MonitoringSocket;
  public readonly writer: BatchWriter;
  public readonly api: IngestApi;
  public readonly ingestFunction: HandlerFunction;
  public readonly loginAttempts: LoginAttempts;
  /** The Idempotency-Keys claimed by uploads. */
  public readonly idempotencyKeys: IdempotencyKeys;
  /** The writer's notes for GET /api/pipeline/status. */
  public readonly pipelineState: PipelineState;
  /** The hosted monitoring dashboard, unless `dashboard` is false. */
  public readonly dashboardSite?: DashboardSite;
  /** The scheduled partition maintenance. */
  public readonly maintenance: Maintenance;

  constructor(scope: Construct, id: string, props: DataHandlerStackProps = {}) {
    super(scope, id, props);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const dbMaxConnections = props.dbMaxConnections ?? 80;
    const readerConnections = props.readerConnections ?? 15;

    // What the functions' bindings point at.
    const network = new Network(this, 'Network', networkProps(props, logRetention));
    this.identity = new Identity(this, 'Identity', { removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN });
    this.queue = new RecordQueue(this, 'Queue', { consumerTimeout: Duration.seconds(WRITER_TIMEOUT_SECONDS), maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT });
    this.database = this.addDatabase(network, props, dbMaxConnections, readerConnections, logRetention);
    this.idempotencyKeys = new IdempotencyKeys(this, 'IdempotencyKeys');
    this.loginAttempts = new LoginAttempts(this, 'LoginAttempts');
    this.pipelineState = new PipelineState(this, 'PipelineState');

    // The functions, each from its catalogue entry, in the order their resources come to exist:
    // the migration creates the roles the writer and the readers connect as, and the socket
    // brings the connections the writer pushes to.
    let wiring = new FunctionWiring(
      {
        vpc: network.vpc,
        queue: this.queue,
        database: this.database,
        identity: this.identity,
        idempotencyKeys: this.idempotencyKeys,
        loginAttempts: this.loginAttempts,
        pipelineState: this.pipelineState,
        partitions: retentionVariablesOf(props),
      },
      { logRetention },
    );
    const migration = new SchemaMigration(this, 'Migration', { wiring, database: this.database, logRetention });
    wiring = wiring.with({ migration });
    this.maintenance = new Maintenance(this, 'Maintenance', { wiring, migration });
    // See ApiGatewayAccount: without the account's logging role the WebSocket stage cannot be created.
    const account = props.apiGatewayAccountRole ?? true ? new ApiGatewayAccount(this, 'ApiGatewayAccount') : undefined;
    this.socket = new MonitoringSocket(this, 'Monitoring', { wiring, accessLogRetention: logRetention, ...(account ? { accountLogging: account.account } : {}) });
    wiring = wiring.with({ connections: this.socket });
    this.writer = new BatchWriter(this, 'Writer', {
      wiring,
      queue: this.queue,
      ...(props.batchSize !== undefined ? { batchSize: props.batchSize } : {}),
      ...(props.batchWindow ? { maxBatchingWindow: props.batchWindow } : {}),
      maxConcurrency: props.maxConcurrency ?? maxConcurrencyFor(dbMaxConnections, readerConnections),
    });
    const httpFunctions = wiring.functions(this, 'http', (spec) => readerOptions(spec, props));
    this.ingestFunction = httpFunctions.ingest!;

    const hostDashboard = props.dashboard ?? true;
    this.api = new IngestApi(this, 'Ingest', {
      functions: httpFunctions,
      issuerUrl: this.identity.issuerUrl,
      audiences: [this.identity.client.userPoolClientId],
      corsAllowOrigins: this.corsAllowOrigins(hostDashboard, props.corsAllowOrigins ?? []),
      accessLogRetention: logRetention,
    });
    if (hostDashboard) {
      this.dashboardSite = new DashboardSite(this, 'Dashboard', { httpApiUrl: this.api.url, webSocketUrl: this.socket.url, logRetention });
    }
    const observability = new Observability(this, 'Observability', {
      queue: this.queue,
      writer: this.writer.function,
      ingest: this.ingestFunction,
      maintenance: this.maintenance.function,
      api: this.api.api,
      database: this.database.instance,
      dbMaxConnections,
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    });
    this.addOutputs(migration, observability);

    // Last, so that a first create that fails anywhere can still delete the database.
    new DeletionProtection(this, 'DatabaseProtection', {
      instance: this.database.instance,
      enabled: props.deletionProtection ?? true,
      logRetention,
    }).afterEverythingIn(this);
  }

  /**
   * PostgreSQL (behind RDS Proxy unless `useRdsProxy` is false), with the reader role's
   * connection limit, and the proxy's share of the connections sized to keep
   * DATABASE_RESERVED_CONNECTIONS free.
   */
  private addDatabase(network: Network, props: DataHandlerStackProps, dbMaxConnections: number, readerConnections: number, logRetention: RetentionDays): Database {
    const useProxy = props.useRdsProxy ?? true;
    if (useProxy && props.availabilityZoneIds) checkProxyZones(this, props.availabilityZoneIds);
    return new Database(this, 'Database', {
      vpc: network.vpc,
      ...(props.dbInstanceType ? { instanceType: props.dbInstanceType } : {}),
      useProxy,
      multiAz: props.dbMultiAz ?? false,
      ...(props.dbEngineVersion ? { engineVersion: props.dbEngineVersion } : {}),
      connectionLimits: { reader: readerConnections },
      proxyMaxConnectionsPercent: proxyMaxConnectionsPercent(dbMaxConnections),
      removalPolicy: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.SNAPSHOT,
      logRetention,
    });
  }

  /**
   * The origins the HTTP API allows: the hosted dashboard's and `extra`, or any when `extra`
   * holds `*`. The site is built after the API (its config.json names the API), so its origin
   * is named lazily: resolved at synth, when the site exists.
   */
  private corsAllowOrigins(hostDashboard: boolean, extra: readonly string[]): string[] {
    if (extra.includes('*')) return ['*'];
    return [...(hostDashboard ? [Lazy.string({ produce: () => this.dashboardSite!.origin })] : []), ...extra];
  }

  private addOutputs(migration: SchemaMigration, observability: Observability): void {
    new CfnOutput(this, 'HttpApiUrl', { value: this.api.url, description: 'POST /api/data/upload, POST /auth/token' });
    new CfnOutput(this, 'WebSocketUrl', { value: this.socket.url, description: 'Connect with ?token=<access_token>' });
    new CfnOutput(this, 'UserPoolId', { value: this.identity.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.identity.client.userPoolClientId });
    new CfnOutput(this, 'DashboardName', { value: observability.dashboard.dashboardName });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.queue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'AlarmTopicArn', { value: observability.alarmTopic.topicArn, description: 'Every alarm is published here' });
    new CfnOutput(this, 'SchemaMigrations', { value: migration.applied, description: 'The migrations the last run applied, or none' });
    if (this.dashboardSite) new CfnOutput(this, 'DashboardUrl', { value: this.dashboardSite.url, description: 'The monitoring dashboard' });
    new CfnOutput(this, 'MigrateFunctionName', { value: migration.function.functionName, description: 'Invoke it to run the migrations again' });
  }
}

function networkProps(props: DataHandlerStackProps, flowLogRetention: RetentionDays): NetworkProps {
  return {
    natGateways: props.natGateways ?? 1,
    flowLogRetention,
    ...(props.availabilityZoneIds ? { availabilityZoneIds: props.availabilityZoneIds } : {}),
    ...(props.availabilityZones ? { availabilityZones: props.availabilityZones } : {}),
  };
}

/**
 * Reserved concurrency for the record readers, when `readerConcurrency` asks for it. Their
 * connections are capped by the reader role's limit either way (`readerConnections`); the
 * health probe, which connects as that role too, is never reserved.
 */
function readerOptions(spec: FunctionSpec, props: DataHandlerStackProps): FunctionOptions {
  const isReader = (RECORD_READERS as readonly string[]).includes(spec.name);
  return isReader && props.readerConcurrency ? { reservedConcurrentExecutions: props.readerConcurrency } : {};
}

/**
 * The retention props as the maintenance function's variables, checked as the function checks
 * them: a bad value fails the synth, naming the prop.
 */
function retentionVariablesOf(props: DataHandlerStackProps): Record<string, string> {
  const source: Record<string, string | undefined> = {
    RETENTION_DAYS: props.retentionDays === undefined ? undefined : String(props.retentionDays),
    ROLLUP_RETENTION_DAYS: props.rollupRetentionDays === undefined ? undefined : String(props.rollupRetentionDays),
    PARTITION_SIZE: props.partitionSize,
  };
  const names: Record<string, string> = { RETENTION_DAYS: 'retentionDays', ROLLUP_RETENTION_DAYS: 'rollupRetentionDays', PARTITION_SIZE: 'partitionSize' };
  const rename = (message: string) => message.replace(/\b(RETENTION_DAYS|ROLLUP_RETENTION_DAYS|PARTITION_SIZE)\b/g, (name) => names[name]!);
  let settings: RetentionSettings;
  try {
    settings = readEnv(RetentionSettings, source);
  } catch (error) {
    throw new Error(`DataHandlerStack: ${rename((error as Error).message)}`);
  }
  const problem = retentionProblem(settings);
  if (problem) throw new Error(`DataHandlerStack: Invalid configuration: ${rename(problem)}`);
  return retentionVariables(settings);
}
