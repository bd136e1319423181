import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct, type IDependable } from 'constructs';
import { WEBSOCKET_API } from '../../lambdas/routes';
import { acknowledgeFinding, nagEnv, nagRef } from '../nag';
import { WEBSOCKET_ACCESS_LOG_FORMAT } from './access-logs';
import type { ConnectionsTarget, FunctionWiring } from './function-wiring';
import type { HandlerFunction } from './handler-function';

/**
 * What each binding on the connections table may do with it, here and wherever else the table
 * lives (the LocalStack stack's).
 */
export const CONNECTIONS_TABLE_ACTIONS = {
  /** $connect: store a connection. */
  register: ['dynamodb:PutItem'],
  /** $disconnect: delete a connection. */
  unregister: ['dynamodb:DeleteItem'],
  /** $default: take what a connection is owed (an update). */
  reportMissed: ['dynamodb:UpdateItem'],
  /** The pusher: list connections, note and take what they missed, drop gone ones. */
  manage: ['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
} as const;

export interface MonitoringSocketProps {
  /**
   * Builds the four route functions from the catalogue; it needs the identity (the authorizer's
   * issuer and audience). The socket adds its own connections.
   */
  readonly wiring: FunctionWiring;
  /** @default 'live' */
  readonly stageName?: string;
  /** Messages per second across the stage. @default 500 */
  readonly throttleRateLimit?: number;
  /** @default 1000 */
  readonly throttleBurstLimit?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /** What happens to the access logs when the stack is deleted. @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * What the stage must wait for: the account's API Gateway CloudWatch Logs role (see
   * ApiGatewayAccount), without which a stage with access logs cannot be created.
   * @default - nothing (the account already has the role)
   */
  readonly accountLogging?: IDependable;
}

/**
 * The monitoring WebSocket API: a REQUEST authorizer on $connect that reads the token from the
 * `token` query parameter, the $connect, $disconnect and $default routes, and the DynamoDB
 * table of open connections (on demand, TTL on `expiresAt`, point-in-time recovery). It owns
 * the four route functions, each granted only what its route needs (their catalogue bindings,
 * through the wiring). Access logs are JSON.
 */
export class MonitoringSocket extends Construct implements ConnectionsTarget {
  public readonly api: WebSocketApi;
  public readonly stage: WebSocketStage;
  public readonly connections: Table;
  public readonly accessLogs: LogGroup;
  public readonly authorizerFunction: HandlerFunction;
  public readonly connectFunction: HandlerFunction;
  public readonly disconnectFunction: HandlerFunction;
  public readonly defaultFunction: HandlerFunction;
  /** `wss://…/<stage>`: where monitors connect. */
  public readonly url: string;
  /** `https://…/<stage>`: the management API that pushes frames. */
  public readonly managementEndpoint: string;

  constructor(scope: Construct, id: string, props: MonitoringSocketProps) {
    super(scope, id);
    this.connections = new Table(this, 'Connections', {
      partitionKey: { name: 'connectionId', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      // Connections are ephemeral: nothing to keep when the stack goes.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The API and its stage come before the functions: $default's binding names the stage's
    // management endpoint, and posting is granted on that stage. The routes follow the functions.
    this.api = new WebSocketApi(this, 'Api', { description: 'data-handler: live monitoring', routeSelectionExpression: WEBSOCKET_API.routeSelectionExpression });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName ?? 'live',
      autoDeploy: true,
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogs), format: WEBSOCKET_ACCESS_LOG_FORMAT },
      throttle: { rateLimit: props.throttleRateLimit ?? 500, burstLimit: props.throttleBurstLimit ?? 1000 },
    });
    if (props.accountLogging) this.stage.node.addDependency(props.accountLogging);
    this.url = this.stage.url;
    this.managementEndpoint = this.stage.callbackUrl;

    const wiring = props.wiring.with({ connections: this });
    this.authorizerFunction = wiring.function(this, 'ws-authorizer');
    this.connectFunction = wiring.function(this, 'ws-connect');
    this.disconnectFunction = wiring.function(this, 'ws-disconnect');
    this.defaultFunction = wiring.function(this, 'ws-default');
    this.addRoutes();
  }

  private addRoutes(): void {
    this.api.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration('ConnectIntegration', this.connectFunction),
      authorizer: new WebSocketLambdaAuthorizer('Authorizer', this.authorizerFunction, {
        identitySource: [`route.request.querystring.${WEBSOCKET_API.tokenQueryParameter}`],
      }),
    });
    this.api.addRoute('$disconnect', { integration: new WebSocketLambdaIntegration('DisconnectIntegration', this.disconnectFunction) });
    this.api.addRoute('$default', { integration: new WebSocketLambdaIntegration('DefaultIntegration', this.defaultFunction), returnResponse: true });
    for (const route of ['$disconnect-Route', '$default-Route']) {
      Validations.of(this.api.node.findChild(route)).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'A WebSocket API authorizes once, on $connect (Lambda authorizer); later routes run only on a connection that was authorized.',
      });
    }
  }

  /** The variables of the `register-connections` and `unregister-connections` bindings. */
  tableEnvironment(): Record<string, string> {
    return { CONNECTIONS_TABLE: this.connections.tableName };
  }

  /** The variables of the `push-to-connections` and `report-missed` bindings. */
  pushEnvironment(): Record<string, string> {
    return { ...this.tableEnvironment(), CONNECTIONS_ENDPOINT: this.managementEndpoint };
  }

  /** $connect: store a connection. */
  grantRegister(grantee: IGrantable) {
    return this.connections.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.register);
  }

  /** $disconnect: delete a connection. */
  grantUnregister(grantee: IGrantable) {
    return this.connections.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.unregister);
  }

  /** $default: take what a connection is owed (an update), and post it to the connection. */
  grantReportMissed(grantee: IGrantable) {
    this.connections.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.reportMissed);
    return this.grantPost(grantee);
  }

  /**
   * The pusher: list connections, note and take what they missed, drop gone ones, and post to
   * them on this stage only.
   */
  grantManageConnections(grantee: IGrantable) {
    this.connections.grant(grantee, ...CONNECTIONS_TABLE_ACTIONS.manage);
    return this.grantPost(grantee);
  }

  private grantPost(grantee: IGrantable) {
    const grant = this.stage.grantManagementApiAccess(grantee);
    if (grantee.grantPrincipal instanceof Construct) {
      const { region, account } = nagEnv(this);
      const arn = `arn:<AWS::Partition>:execute-api:${region}:${account}:${nagRef(this.api)}/${this.stage.stageName}/*/@connections/*`;
      acknowledgeFinding(grantee.grantPrincipal, 'AwsSolutions-IAM5', `Resource::${arn}`,
        'execute-api:ManageConnections on this API\'s own stage only; the connection ids in the ARN are known only at run time.');
    }
    return grant;
  }
}
