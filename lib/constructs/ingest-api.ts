import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CfnStage, CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HTTP_CORS, HTTP_ROUTES, type FunctionName } from '../../lambdas/routes';
import { HTTP_ACCESS_LOG_FORMAT } from './access-logs';

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
  /**
   * Origins whose pages may call the API (the monitoring dashboard's); `['*']` allows any.
   * @default - none: no CORS configuration, so browsers refuse cross-origin calls
   */
  readonly corsAllowOrigins?: string[];
  /**
   * Tighter limits on the routes of some functions, on top of the API's. The login route is
   * public and calls Cognito's InitiateAuth: a low limit slows password guessing and keeps a
   * flood from using up the account's Cognito quota. `GET /health` opens a database connection
   * per check and environment (see lambdas/core/readiness.ts): its limit keeps a flood from
   * starting environments that each hold one.
   * @default { 'auth-token': { rateLimit: 10, burstLimit: 20 }, health: { rateLimit: 20, burstLimit: 40 } }
   */
  readonly routeThrottles?: Partial<Record<FunctionName, RouteThrottle>>;
  /** @default RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/** Requests per second (steady) and burst for a route. */
export interface RouteThrottle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/**
 * The HTTPS API: the routes of `lambdas/routes.ts`, a JWT authorizer on every route that asks
 * for one, throttling (tighter on the login route), CORS for the dashboard, and JSON access logs.
 */
export class IngestApi extends Construct {
  public readonly api: HttpApi;
  public readonly stage: HttpStage;
  public readonly accessLogs: LogGroup;
  /** The API's base URL, e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com/`. */
  public readonly url: string;

  constructor(scope: Construct, id: string, props: IngestApiProps) {
    super(scope, id);
    const corsAllowOrigins = props.corsAllowOrigins ?? [];
    this.api = new HttpApi(this, 'Api', {
      description: 'data-handler: record ingest',
      createDefaultStage: false,
      ...(corsAllowOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: corsAllowOrigins,
              allowMethods: HTTP_CORS.allowMethods.map((m) => CorsHttpMethod[m]),
              allowHeaders: [...HTTP_CORS.allowHeaders],
              maxAge: Duration.seconds(HTTP_CORS.maxAgeSeconds),
            },
          }
        : {}),
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
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogs), format: HTTP_ACCESS_LOG_FORMAT },
    });
    const routeThrottles = props.routeThrottles ?? { 'auth-token': { rateLimit: 10, burstLimit: 20 }, health: { rateLimit: 20, burstLimit: 40 } };
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
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
      const throttle = routeThrottles[route.function];
      if (throttle) {
        routeSettings[`${route.method} ${route.path}`] = { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit };
        // A stage's route settings must name routes that already exist.
        this.stage.node.addDependency(created!);
      }
      if (route.auth === 'none') {
        Validations.of(created!).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason: `${route.method} ${route.path} is public by design: ${route.function === 'auth-token' ? 'it is where a token is obtained' : 'a liveness probe with no data'}.`,
        });
      }
    }
    if (Object.keys(routeSettings).length > 0) (this.stage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    this.url = this.stage.url;
  }
}
