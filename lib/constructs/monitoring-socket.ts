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
import { HandlerFunction, type FunctionDefaults } from './handler-function';

export interface MonitoringSocketProps extends FunctionDefaults {
  /** The JWT issuer the authorizer trusts (the Cognito user pool). */
  readonly issuerUrl: string;
  /** The audience (Cognito app client id) the authorizer requires. */
  readonly audience: string;
  /** @default 'live' */
  readonly stageName?: string;
  /** Messages per second across the stage. @default 500 */
  readonly throttleRateLimit?: number;
  /** @default 1000 */
  readonly throttleBurstLimit?: number;
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
 * the four route functions, each granted only what its route needs. Access logs are JSON.
 */
export class MonitoringSocket extends Construct {
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
    const tableEnv = { CONNECTIONS_TABLE: this.connections.tableName };
    this.authorizerFunction = new HandlerFunction(this, 'AuthorizerFunction', {
      ...props,
      name: 'ws-authorizer',
      environment: { JWT_ISSUER: props.issuerUrl, JWT_AUDIENCE: props.audience },
    });
    this.connectFunction = new HandlerFunction(this, 'ConnectFunction', { ...props, name: 'ws-connect', environment: tableEnv });
    this.disconnectFunction = new HandlerFunction(this, 'DisconnectFunction', { ...props, name: 'ws-disconnect', environment: tableEnv });
    this.defaultFunction = new HandlerFunction(this, 'DefaultFunction', { ...props, name: 'ws-default', environment: tableEnv });
    this.grantRegister(this.connectFunction);
    this.grantUnregister(this.disconnectFunction);

    this.api = new WebSocketApi(this, 'Api', {
      description: 'data-handler: live monitoring',
      routeSelectionExpression: WEBSOCKET_API.routeSelectionExpression,
      connectRouteOptions: {
        integration: new WebSocketLambdaIntegration('ConnectIntegration', this.connectFunction),
        authorizer: new WebSocketLambdaAuthorizer('Authorizer', this.authorizerFunction, {
          identitySource: [`route.request.querystring.${WEBSOCKET_API.tokenQueryParameter}`],
        }),
      },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('DisconnectIntegration', this.disconnectFunction) },
      defaultRouteOptions: { integration: new WebSocketLambdaIntegration('DefaultIntegration', this.defaultFunction), returnResponse: true },
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
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
    // $default reports missed frames: it takes what a connection is owed and posts it.
    this.defaultFunction.addEnvironment('CONNECTIONS_ENDPOINT', this.managementEndpoint);
    this.grantReportMissed(this.defaultFunction);
    for (const route of ['$disconnect-Route', '$default-Route']) {
      Validations.of(this.api.node.findChild(route)).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: 'A WebSocket API authorizes once, on $connect (Lambda authorizer); later routes run only on a connection that was authorized.',
      });
    }
  }

  /** $connect: store a connection. */
  grantRegister(grantee: IGrantable) {
    return this.connections.grant(grantee, 'dynamodb:PutItem');
  }

  /** $disconnect: delete a connection. */
  grantUnregister(grantee: IGrantable) {
    return this.connections.grant(grantee, 'dynamodb:DeleteItem');
  }

  /** $default: take what a connection is owed (an update), and post it to the connection. */
  grantReportMissed(grantee: IGrantable) {
    this.connections.grant(grantee, 'dynamodb:UpdateItem');
    return this.grantPost(grantee);
  }

  /**
   * The pusher: list connections, note and take what they missed, drop gone ones, and post to
   * them on this stage only.
   */
  grantManageConnections(grantee: IGrantable) {
    this.connections.grant(grantee, 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem');
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
