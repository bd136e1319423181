/**
 * The API's routes, declared once: the local gateways serve them and the CDK stack deploys
 * them, so the two cannot drift apart.
 */

/** A function of the system; its module is `lambdas/handlers/<name>.ts`. */
export type FunctionName =
  | 'ingest'
  | 'records-query'
  | 'records-series'
  | 'swing-analyze'
  | 'pipeline-status'
  | 'openapi'
  | 'batch-writer'
  | 'auth-token'
  | 'health'
  | 'ws-authorizer'
  | 'ws-connect'
  | 'ws-disconnect'
  | 'ws-default'
  | 'migrate'
  | 'maintain';

export interface HttpRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly function: FunctionName;
  /** 'jwt': the HTTP API's JWT authorizer guards the route. */
  readonly auth: 'jwt' | 'none';
}

export const HTTP_ROUTES: readonly HttpRoute[] = [
  // The seed system's URL had a trailing slash: API Gateway routes `/api/data/upload/` here
  // too, and so does the local gateway (see matchHttpRoute).
  { method: 'POST', path: '/api/data/upload', function: 'ingest', auth: 'jwt' },
  { method: 'GET', path: '/api/data/records', function: 'records-query', auth: 'jwt' },
  { method: 'GET', path: '/api/data/swing-analyze', function: 'swing-analyze', auth: 'jwt' },
  { method: 'GET', path: '/api/data/series', function: 'records-series', auth: 'jwt' },
  { method: 'GET', path: '/api/pipeline/status', function: 'pipeline-status', auth: 'jwt' },
  { method: 'POST', path: '/auth/token', function: 'auth-token', auth: 'none' },
  { method: 'GET', path: '/health', function: 'health', auth: 'none' },
  { method: 'GET', path: '/openapi.json', function: 'openapi', auth: 'none' },
  // The monitoring WebSocket's contract, served beside the HTTP API's.
  { method: 'GET', path: '/asyncapi.json', function: 'openapi', auth: 'none' },
];

/** CORS of the HTTP API, for a browser dashboard on another origin (origins are configurable). */
export const HTTP_CORS = {
  allowMethods: ['GET', 'POST', 'OPTIONS'],
  allowHeaders: ['authorization', 'content-type', 'idempotency-key'],
  maxAgeSeconds: 600,
} as const;

/** The WebSocket API: its route selection and the function behind each route. */
export const WEBSOCKET_API = {
  routeSelectionExpression: '$request.body.action',
  authorizer: 'ws-authorizer',
  /** The query parameter that carries the token on $connect. */
  tokenQueryParameter: 'token',
  routes: {
    $connect: 'ws-connect',
    $disconnect: 'ws-disconnect',
    $default: 'ws-default',
  },
} as const satisfies {
  routeSelectionExpression: string;
  authorizer: FunctionName;
  tokenQueryParameter: string;
  routes: Record<string, FunctionName>;
};

/**
 * Finds the route for a method and path, or undefined. Like API Gateway, a trailing slash
 * does not change the route.
 */
export function matchHttpRoute(method: string, path: string): HttpRoute | undefined {
  const normalised = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return HTTP_ROUTES.find((r) => r.method === method && r.path === normalised);
}
