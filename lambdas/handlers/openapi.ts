/**
 * The contracts outside clients code against, as generated at build time (lambdas/contracts/,
 * `npm run contracts`; a test keeps them equal to what the schemas give) and bundled as JSON:
 * no schema is converted at run time.
 * - GET /openapi.json: the HTTP API's OpenAPI 3.1 document, its server the API the request came
 *   through.
 * - GET /asyncapi.json: the monitoring WebSocket's AsyncAPI 3.0 document, the same for everyone.
 */
import asyncApi from '../contracts/asyncapi.json';
import openApi from '../contracts/openapi.json';
import { httpHandler, type HttpEvent } from '../shared/http';

export function makeOpenApiHandler() {
  const byServer = new Map<string, string>();
  const asyncApiText = JSON.stringify(asyncApi);
  return httpHandler(async (event: HttpEvent) => {
    const headers = { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' };
    if (event.rawPath.endsWith('/asyncapi.json')) return { statusCode: 200, headers, body: asyncApiText };
    const host = event.requestContext.domainName;
    // Locally the gateway is plain HTTP on 127.0.0.1; API Gateway is HTTPS only.
    const scheme = /^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host) ? 'http' : 'https';
    const server = `${scheme}://${host}`;
    let body = byServer.get(server);
    if (body === undefined) {
      body = JSON.stringify({ ...openApi, servers: [{ url: server }] });
      if (byServer.size < 8) byServer.set(server, body);
    }
    return { statusCode: 200, headers, body };
  });
}

/** The Lambda entry point. */
export const handler = makeOpenApiHandler();
