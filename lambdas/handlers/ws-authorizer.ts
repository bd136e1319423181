/**
 * The WebSocket API's REQUEST authorizer on $connect: verifies the JWT in the `token` query
 * parameter (browsers cannot set headers on a WebSocket).
 */
import middy from '@middy/core';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { TokenVerifier } from '../core/ports';
import { verifierFromEnv } from '../shared/auth';
import { deferred } from '../shared/env';
import { logger, observability } from '../shared/observability';

/** The context the authorizer hands to $connect (API Gateway allows only scalar values). */
export interface ConnectionAuthContext {
  readonly userId: string;
  /** "true" or "false": context values reach $connect as strings. */
  readonly isAdmin: string;
}

export function makeWsAuthorizerHandler(deps: { readonly verifier: TokenVerifier }) {
  return middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
    .use(observability())
    .handler(async (event) => {
      const token = event.queryStringParameters?.token ?? '';
      try {
        const principal = await deps.verifier.verify(token);
        return {
          principalId: principal.userId,
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
          },
          context: { userId: principal.userId, isAdmin: String(principal.isAdmin) } satisfies ConnectionAuthContext,
        };
      } catch {
        logger.info('websocket connect refused', { sourceIp: event.requestContext?.identity?.sourceIp });
        // This exact message makes API Gateway answer 401 rather than 403 or 500.
        throw new Error('Unauthorized');
      }
    });
}

/** The Lambda entry point. */
export const handler = deferred(() => makeWsAuthorizerHandler({ verifier: verifierFromEnv() }));
