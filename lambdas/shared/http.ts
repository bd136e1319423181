/**
 * HTTP API (payload v2.0) helpers shared by the HTTP-facing handlers.
 */
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { PublicError, RetryLaterError, UnauthorizedError } from '../core/errors';
import { principalFromClaims } from '../core/principal';
import type { Principal } from '../core/ports';
import { describeError, logger, observability } from './observability';

/** An HTTP API event, with the JWT authorizer's claims when the route has one. */
export type HttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { jwt?: { claims?: Record<string, unknown>; scopes?: string[] | null } };
  };
};
export type HttpResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** The error body every HTTP route uses: `{ "error": { code, message, details? } }`. */
export function errorBody(code: string, message: string, details?: unknown) {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/**
 * Maps typed errors to their status and public message; anything else is logged with its
 * cause and answered with a generic 500.
 */
export function httpErrors(): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    onError: async (request) => {
      const error = request.error;
      if (error instanceof PublicError) {
        const headers: Record<string, string> = error instanceof RetryLaterError ? { 'retry-after': String(error.retryAfterSeconds) } : {};
        request.response = json(error.status, errorBody(error.code, error.message, error.details), headers);
        // The client sees only the public message; the operator needs the cause.
        if (error.status >= 500) logger.warn('service unavailable', { ...describeError(error), route: request.event?.routeKey });
        return;
      }
      logger.error('unhandled error', { ...describeError(error), route: request.event?.routeKey });
      request.response = json(500, errorBody('internal_error', 'Something went wrong on our side.'));
    },
  };
}

/** The caller, from the JWT authorizer's claims. */
export function principalOf(event: HttpEvent): Principal {
  const claims = event.requestContext.authorizer?.jwt?.claims;
  const principal = claims ? principalFromClaims(claims) : null;
  if (!principal) throw new UnauthorizedError('A valid bearer token is required.');
  return principal;
}

/** A header by case-insensitive name (the HTTP API lower-cases them; be safe anyway). */
export function header(event: HttpEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

/** The body as text, decoded when the gateway base64-encoded it. */
export function bodyText(event: HttpEvent): string {
  if (!event.body) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}

/**
 * An HTTP API handler with the middlewares every route uses: logs and metrics, then typed
 * errors mapped to their JSON answers.
 */
export function httpHandler(handle: (event: HttpEvent) => Promise<HttpResult>) {
  return middy<HttpEvent, HttpResult>().use(observability()).use(httpErrors()).handler(handle);
}
