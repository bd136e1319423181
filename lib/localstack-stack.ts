import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, type CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { WRITER_TIMEOUT_SECONDS } from '../lambdas/functions';
import { LOCAL_RESOURCE_NAMES } from '../local/resource-names';
import { BatchWriter } from './constructs/batch-writer';
import { FunctionWiring, type ConnectionsTarget, type DatabaseTarget } from './constructs/function-wiring';
import { CONNECTIONS_TABLE_ACTIONS } from './constructs/monitoring-socket';
import { PipelineState } from './constructs/pipeline-state';
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
 * host's own architecture instead of emulating arm64 on an x86 host. It is built as on AWS, by
 * the BatchWriter construct through a FunctionWiring: only the targets of its bindings differ.
 */
export class LocalStackStack extends Stack {
  public readonly writer: BatchWriter;

  constructor(scope: Construct, id: string, props: LocalStackStackProps = {}) {
    super(scope, id, props);
    // The catalogue's receives before the DLQ (RecordQueue's default), as `npm start` provisions it.
    const queue = new RecordQueue(this, 'Queue', { consumerTimeout: Duration.seconds(WRITER_TIMEOUT_SECONDS) });
    // RecordQueue takes no names (on AWS they are generated); only this local stack fixes them.
    (queue.queue.node.defaultChild as CfnQueue).queueName = LOCAL_RESOURCE_NAMES.queue;
    (queue.deadLetterQueue.node.defaultChild as CfnQueue).queueName = LOCAL_RESOURCE_NAMES.deadLetterQueue;
    // The writer's notes for the local stack's GET /api/pipeline/status (npm start provisions the
    // same name on LocalStack when this stack has not).
    const pipelineState = new PipelineState(this, 'PipelineState', { pointInTimeRecovery: false });
    (pipelineState.table.node.defaultChild as CfnTable).tableName = LOCAL_RESOURCE_NAMES.pipelineStateTable;
    const wiring = new FunctionWiring({
      vpc: 'none',
      queue,
      database: new ComposeDatabase(props.databaseUrl ?? COMPOSE_NETWORK_DATABASE_URL),
      connections: new HostGatewayConnections(this, 'Connections', props.connectionsEndpoint ?? dockerHostConnectionsEndpoint(3001)),
      pipelineState,
    });
    this.writer = new BatchWriter(this, 'Writer', { wiring, queue, batchSize: props.batchSize });
  }
}

/**
 * The compose file's PostgreSQL, by URL: the writer connects as the owner it names, whatever
 * role its binding asks for (the compose path makes no application roles), and nothing is
 * granted: the database is not an AWS resource.
 */
class ComposeDatabase implements DatabaseTarget {
  readonly rolesMadeByMigration = false;

  constructor(private readonly url: string) {}

  connectionEnvironment(): Record<string, string> {
    return { DATABASE_URL: this.url };
  }

  grantConnect(): void {}

  /** The compose database's owner makes no roles: the functions connect as it. */
  roleSecretsEnvironment(): Record<string, string> {
    return {};
  }

  grantReadRoleSecrets(): void {}
}

/**
 * The connections table of the local WebSocket gateway, which runs on the Docker host: its
 * functions register connections there, and the writer pushes through its management API
 * (`endpoint`), which IAM does not guard. Each binding gets the same table actions as on AWS.
 */
class HostGatewayConnections extends Construct implements ConnectionsTarget {
  readonly table: Table;

  constructor(scope: Construct, id: string, private readonly endpoint: string) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      tableName: LOCAL_RESOURCE_NAMES.connectionsTable,
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  tableEnvironment(): Record<string, string> {
    return { CONNECTIONS_TABLE: this.table.tableName };
  }

  pushEnvironment(): Record<string, string> {
    return { ...this.tableEnvironment(), CONNECTIONS_ENDPOINT: this.endpoint };
  }

  grantRegister(grantee: IGrantable) {
    return this.table.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.register);
  }

  grantUnregister(grantee: IGrantable) {
    return this.table.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.unregister);
  }

  grantReportMissed(grantee: IGrantable) {
    return this.table.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.reportMissed);
  }

  grantManageConnections(grantee: IGrantable) {
    return this.table.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.manage);
  }
}
