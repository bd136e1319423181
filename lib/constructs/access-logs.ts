import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';

/**
 * JSON access-log lines, one object a request, so CloudWatch Logs Insights can filter and
 * aggregate fields directly (`filter status >= 500 | stats count() by routeKey`). Each uses only
 * the $context variables that API Gateway documents for that kind of API.
 */
const json = (fields: Record<string, string>) => AccessLogFormat.custom(JSON.stringify(fields));

/** An HTTP API request. */
export const HTTP_ACCESS_LOG_FORMAT = json({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  method: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  error: '$context.error.message',
});

/** A WebSocket event ($connect, a message, $disconnect). */
export const WEBSOCKET_ACCESS_LOG_FORMAT = json({
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  status: '$context.status',
  integrationLatency: '$context.integrationLatency',
  error: '$context.error.message',
});
