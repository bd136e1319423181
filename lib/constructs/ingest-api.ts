import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HTTP_CORS, HTTP_ROUTES, type FunctionName } from '../../lambdas/routes';

export interface IngestApiProps {
  /** The function behind each route of the shared route table. */
  readonly functions: Partial<Record<FunctionName, IFunction>>;
  /** The JWT issuer (the Cognito user pool). */
  readonly issuerUrl: string;
  /** Accepted audiences (the Cognito app client id). */
  readonly audiences: string[];
  /** Steady requests per second across the API. @default 1000 */
  readonly throttleRateLimit?: number;
  /** @default 2000 */
  readonly throttleBurstLimit?: number;
  /** Origins allowed by CORS (the monitoring dashboard). @default ['*'] */
  readonly corsAllowOrigins?: string[];
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The HTTPS API: the routes of `lambdas/routes.ts`, a JWT authorizer on every route that asks
 * for one, throttling, CORS for the dashboard, and JSON access logs.
 */
export class IngestApi extends Construct {
  public readonly api: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;
  /** The API's base URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/`. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'data-handler: record ingest',
      createDefaultStage: false,
      corsPreflight: {
        allowOrigins: props.corsAllowOrigins ?? ['*'],
        allowMethods: HTTP_CORS.allowMethods.map((m) => CorsHttpMethod[m]),
        allowHeaders: [...HTTP_CORS.allowHeaders],
        maxAge: Duration.seconds(HTTP_CORS.maxAgeSeconds),
      },
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 1000, burstLimit: props.throttleBurstLimit ?? 2000 },
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogs) },
    });
    const authorizer = new HttpJwtAuthorizer('Jwt', props.issuerUrl, { jwtAudience: props.audiences, identitySource: ['$request.header.Authorization'] });
    const integrations = new Map<FunctionName, HttpLambdaIntegration>();
    for (const route of HTTP_ROUTES) {
      const fn = props.functions[route.function];
      if (!fn) throw new Error(`IngestApi: no function given for route ${route.method} ${route.path} (${route.function})`);
      let integration = integrations.get(route.function);
      if (!integration) integrations.set(route.function, (integration = new HttpLambdaIntegration(`${route.function}Integration`, fn)));
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(route.auth === 'jwt' ? { authorizer } : {}),
      });
      if (route.auth === 'none') {
        Validations.of(created!).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public by design: ${route.function === 'auth-token' ? 'it is where a token is obtained' : 'a liveness probe with no data'}.`,
        });
      }
    }
    this.url = this.stage.url;
  }
}
