/**
 * The contracts outside clients code against, built once per execution environment:
 * - GET /openapi.json: the HTTP API's OpenAPI 3.1 document (lambdas/core/openapi.ts); its server
 *   is the API the request came through.
 * - GET /asyncapi.json: the monitoring WebSocket's AsyncAPI 3.0 document (lambdas/core/asyncapi.ts),
 *   the same for every caller.
 */
import { asyncApiDocument } from '../core/asyncapi';
import { openApiDocument } from '../core/openapi';
import { httpHandler, type HttpEvent } from '../shared/http';

export function makeOpenApiHandler() {
  const byServer = new Map<string, string>();
  let asyncApi: string | undefined;
  return httpHandler(async (event: HttpEvent) => {
    const headers = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };
    if (event.rawPath.endsWith('/asyncapi.json')) {
      asyncApi ??= JSON.stringify(asyncApiDocument());
      return { statusCode: 200, headers, body: asyncApi };
    }
    const host = event.requestContext.domainName;
    // Locally the gateway is plain HTTP on 127.0.0.1; API Gateway is HTTPS only.
    const scheme = /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host) ? 'http' : 'https';
    const server = `${scheme}://${host}`;
    let body = byServer.get(server);
    if (body === undefined) {
      body = JSON.stringify(openApiDocument(server));
      if (byServer.size < 8) byServer.set(server, body);
    }
    return { statusCode: 200, headers, body };
  });
}

/** The Lambda entry point. */
export const handler = makeOpenApiHandler();
