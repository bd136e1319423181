/**
 * The local HTTP API: API Gateway HTTP API (payload format 2.0) in front of the handler
 * modules, with its JWT authorizer, its 10 MB payload limit and its 30 s integration timeout.
 *
 * Beyond API Gateway's own behaviour, for a stack that runs on a developer's machine:
 * - CORS answers only the dashboard's own origin and an allow-list (see origins.ts);
 * - on a JWT route the token is checked before the body is read: without a valid one the
 *   answer is 401 and the connection is closed, so an unauthenticated body is never buffered;
 * - GET /health answers 503 `{status: 'degraded', reason}` while the platform itself is
 *   degraded (PostgreSQL restarting), before any function runs;
 * - a client that stalls while sending a request (its headers, or its body) is answered 408
 *   within a few seconds (headersTimeoutMs, requestTimeoutMs), not held for a minute: only
 *   receiving is timed, a function's run is bounded by the integration timeout alone;
 * - a stop takes no new connections, lets every request in flight finish and its answer
 *   reach the client with `connection: close`, answers 503 to requests that arrive meanwhile
 *   on kept-alive connections, then ends those gracefully, and ends at a deadline;
 * - no connection is destroyed while its client may still be reading an answer, save what is
 *   left at a stop's deadline: each close is a lingering one (see http-connections.ts).
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { Server as NetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { TokenIssuer, TokenVerifier } from '../lambdas/core/ports';
import { bearerToken } from '../lambdas/adapters/jwt-verifier';
import { type FunctionName, HTTP_CORS, matchHttpRoute } from '../lambdas/routes';
import type { HttpEvent } from '../lambdas/shared/http';
import { dashboardPolicy } from '../web/files';
import { answerCognito, COGNITO_TARGET_PREFIX } from './cognito';
import { AnsweredBeforeBodyError, BodyTooLargeError, readBody } from './http-body';
import { checkingIntervalMs, GatewayConnections, RECEIVE_TIMEOUTS, STOP_IDLE_GRACE_MS } from './http-connections';
import { invoke, InvocationTimeoutError, type LambdaHandler } from './invoke';
import { originPolicy, type OriginList, type OriginPolicy } from './origins';
import type { PlatformHealth } from './restarter';

/** API Gateway HTTP API limits. */
export const HTTP_API_LIMITS = { maxPayloadBytes: 10 * 1024 * 1024, integrationTimeoutMs: 30_000 } as const;

export interface HttpGatewayOptions {
  readonly port: number;
  readonly handlers: Partial<Record<FunctionName, LambdaHandler>>;
  readonly verifier: TokenVerifier;
  /** Extra GET routes served by the gateway itself (the local identity's JWKS). */
  readonly staticJson?: Record<string, () => unknown>;
  /** Static files served at the root (the dashboard): file name to path. */
  readonly staticFiles?: Readonly<Record<string, string>>;
  /**
   * Where the static pages may connect besides the gateway itself (the WebSocket gateway's
   * origins). @default [] (the gateway only)
   */
  readonly connectSources?: readonly string[];
  readonly integrationTimeoutMs?: number;
  /**
   * How long a client may take to send a request's headers before it is answered 408 and its
   * connection closed; at most requestTimeoutMs. @default 10 s (RECEIVE_TIMEOUTS)
   */
  readonly headersTimeoutMs?: number;
  /**
   * How long a client may take to send its whole request, headers and body, before it is
   * answered 408 and its connection closed. A request received whole is not timed by it any
   * more: its function runs up to the integration timeout. @default 20 s (RECEIVE_TIMEOUTS)
   */
  readonly requestTimeoutMs?: number;
  /**
   * Answers the user pool API (`POST /` with an `X-Amz-Target` of Cognito's) from the local
   * identity, so the login function's Cognito client works unchanged. @default - not served
   */
  readonly cognito?: { readonly issuer: TokenIssuer; readonly clientId: string };
  /**
   * Origins whose pages may call the API, besides the gateway's own (the dashboard's); `*` for
   * any. @default [] (the dashboard's origin only)
   */
  readonly corsAllowOrigins?: OriginList;
  /** The platform's own state; while degraded, GET /health answers 503 with its reason. @default always ok */
  readonly health?: () => PlatformHealth;
  /** How long a stop waits for requests in flight. @default the integration timeout plus 5 s */
  readonly drainTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface RunningGateway {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

const UNAUTHORIZED = { message: 'Unauthorized', error: { code: 'unauthorized', message: 'A valid bearer token is required.' } };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'apigw-requestid': randomUUID(), ...headers });
  res.end(text);
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

async function sendFile(res: ServerResponse, file: string, policy: string) {
  const body = await readFile(file);
  res.writeHead(200, {
    'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': policy,
  });
  res.end(body);
}

/** JWT claims as the HTTP API hands them to a function: every value a string, lists as "[a b]". */
export function flattenClaims(claims: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(claims).map(([k, v]) => [k, Array.isArray(v) ? `[${v.join(' ')}]` : typeof v === 'object' ? JSON.stringify(v) : String(v)]),
  );
}

function isTextual(contentType: string): boolean {
  return contentType === '' || /^(text\/|application\/([\w.+-]+\+)?(json|xml|x-www-form-urlencoded)|application\/javascript)/i.test(contentType);
}

function buildEvent(req: IncomingMessage, url: URL, body: Buffer, routeKey: string, claims?: Record<string, string>): HttpEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) query[name] = name in query ? `${query[name]},${value}` : value;
  const now = Date.now();
  const textual = isTextual(headers['content-type'] ?? '');
  return {
    version: '2.0',
    routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
      ...(claims ? { authorizer: { jwt: { claims, scopes: null } } } : {}),
    },
    ...(body.length ? { body: textual ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !textual,
  } as HttpEvent;
}

function writeResult(res: ServerResponse, result: unknown) {
  // Payload 2.0: a result without statusCode is a 200 JSON body.
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    send(res, 200, JSON.stringify(result ?? null));
    return;
  }
  const r = result as APIGatewayProxyStructuredResultV2;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(r.headers ?? {})) headers[k] = String(v);
  if (r.cookies?.length) headers['set-cookie'] = r.cookies;
  res.writeHead(r.statusCode ?? 200, headers);
  res.end(r.body ? (r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body) : undefined);
}

/** Sets the CORS headers the HTTP API would; answers a preflight. True when the request is answered. */
function answerCors(req: IncomingMessage, res: ServerResponse, origins: OriginPolicy | undefined): boolean {
  // CORS as the HTTP API answers it, for the allowed origins only: preflights here, headers on every answer.
  const origin = req.headers.origin;
  const allowOrigin = origin ? origins?.allowOriginHeader(origin) : undefined;
  if (origin) res.setHeader('vary', 'origin');
  if (allowOrigin) res.setHeader('access-control-allow-origin', allowOrigin);
  if (!(req.method === 'OPTIONS' && origin && req.headers['access-control-request-method'])) return false;
  res.writeHead(
    204,
    allowOrigin
      ? {
          'access-control-allow-methods': HTTP_CORS.allowMethods.join(','),
          'access-control-allow-headers': HTTP_CORS.allowHeaders.join(','),
          'access-control-max-age': String(HTTP_CORS.maxAgeSeconds),
        }
      : {},
  );
  res.end();
  return true;
}

/** What the gateway serves besides the routes: static JSON, the dashboard's files, Cognito's API. True when answered. */
async function answerLocal(req: IncomingMessage, res: ServerResponse, url: URL, options: HttpGatewayOptions, policy: string): Promise<boolean> {
  const staticRoute = req.method === 'GET' ? options.staticJson?.[url.pathname] : undefined;
  if (staticRoute) {
    send(res, 200, staticRoute());
    return true;
  }
  const file = req.method === 'GET' ? options.staticFiles?.[url.pathname === '/' ? 'index.html' : url.pathname.slice(1)] : undefined;
  if (file) {
    await sendFile(res, file, policy);
    return true;
  }
  const target = req.headers['x-amz-target'];
  if (options.cognito && req.method === 'POST' && url.pathname === '/' && typeof target === 'string' && target.startsWith(COGNITO_TARGET_PREFIX)) {
    const answer = await answerCognito(target, (await readBody(req, res, 64 * 1024)).toString('utf8'), options.cognito.issuer, options.cognito.clientId);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
    return true;
  }
  return false;
}

/** A route of the API as API Gateway runs it: readiness, the JWT authorizer, the payload limit, the function. */
async function answerRoute(req: IncomingMessage, res: ServerResponse, url: URL, options: HttpGatewayOptions, timeoutMs: number): Promise<void> {
  const route = matchHttpRoute(req.method ?? 'GET', url.pathname);
  if (!route) return send(res, 404, { message: 'Not Found' });
  if (route.function === 'health') {
    const health = options.health?.();
    if (health?.status === 'degraded') return send(res, 503, health, { 'retry-after': '1' });
  }
  // The authorizer runs before the body is read: an unauthenticated body is never buffered.
  let claims: Record<string, string> | undefined;
  if (route.auth === 'jwt') {
    try {
      claims = flattenClaims((await options.verifier.verify(bearerToken(req.headers.authorization))).claims);
    } catch {
      // API Gateway's own answer, plus this API's error shape; the unread body is not
      // taken: the connection closes (lingering) once the answer is out.
      return send(res, 401, UNAUTHORIZED, { 'www-authenticate': 'Bearer', connection: 'close' });
    }
  }
  let body: Buffer;
  try {
    body = await readBody(req, res, HTTP_API_LIMITS.maxPayloadBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return send(res, 413, { message: 'Request Entity Too Large' }, { connection: 'close' });
    throw error;
  }
  const handler = options.handlers[route.function];
  if (!handler) return send(res, 500, { message: 'Internal Server Error' });
  const event = buildEvent(req, url, body, `${route.method} ${route.path}`, claims);
  writeResult(res, await invoke(handler, event, { functionName: route.function, timeoutMs }));
}

/**
 * A stop that loses no request: no new connections, every request in flight answered (within
 * `drainTimeoutMs`), then the kept-alive connections closed gracefully.
 */
async function drainAndClose(server: Server, connections: GatewayConnections, drainTimeoutMs: number, log: ((line: string) => void) | undefined): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  // No new connections. Not server.close(), which destroys the kept-alive connections at
  // once: a request already on its way on one would meet a reset. They stay open while the
  // requests in flight finish (a request on one is answered 503), and Node keeps timing
  // the requests still being received.
  NetServer.prototype.close.call(server);
  // Each answer still to come closes its connection once it is out, rather than keeping it alive.
  connections.closeAfterAnswers();
  const drained = await connections.until(() => connections.owed === 0, deadline);
  if (!drained) log?.(`http gateway: ${connections.owed} request(s) still running after ${drainTimeoutMs} ms; closing their connections`);
  // The idle connections end now, gracefully: after a turn of the event loop, so that a
  // request the kernel holds already is read first (and answered 503), and those that have
  // just had their answer after a grace for their client's next request.
  await new Promise((resolve) => setImmediate(resolve));
  connections.closeIdle(STOP_IDLE_GRACE_MS);
  if (!(await connections.until(() => connections.size === 0, deadline))) connections.destroyAll();
  // Stops Node's timeout checker (the listener is closed already; this emits 'close' again).
  server.close();
}

/** Starts the gateway on 127.0.0.1. */
export async function startHttpGateway(options: HttpGatewayOptions): Promise<RunningGateway> {
  const timeoutMs = options.integrationTimeoutMs ?? HTTP_API_LIMITS.integrationTimeoutMs;
  const policy = dashboardPolicy(options.connectSources ?? []);
  let origins: OriginPolicy | undefined; // set once the port, and so the dashboard's origin, is known
  let stopping = false;

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (answerCors(req, res, origins)) return;
    try {
      if (await answerLocal(req, res, url, options, policy)) return;
      await answerRoute(req, res, url, options, timeoutMs);
    } catch (error) {
      if (error instanceof InvocationTimeoutError) return send(res, 503, { message: 'Service Unavailable' });
      if (error instanceof AnsweredBeforeBodyError) return; // answered 408 already (the body stalled)
      options.log?.(`http gateway: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      if (!res.headersSent) send(res, 500, { message: 'Internal Server Error' });
    }
  };

  const headersTimeout = options.headersTimeoutMs ?? RECEIVE_TIMEOUTS.headersMs;
  const requestTimeout = options.requestTimeoutMs ?? RECEIVE_TIMEOUTS.requestMs;
  const connectionsCheckingInterval = checkingIntervalMs(headersTimeout, requestTimeout);
  const server = createServer({ headersTimeout, requestTimeout, connectionsCheckingInterval }, (req, res) => {
    if (!connections.admit(req, res)) return;
    if (stopping) {
      // Arrived on a kept-alive connection after the stop began: not taken, safe to retry.
      return send(res, 503, { message: 'Service Unavailable' }, { connection: 'close', 'retry-after': '1' });
    }
    void serve(req, res);
  });
  const connections = new GatewayConnections(server);
  // A client that sends `Expect: 100-continue` gets it only once the body is wanted: one
  // without a valid token is answered 401 before it sends any.
  server.on('checkContinue', (req, res) => server.emit('request', req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  origins = originPolicy(url, options.corsAllowOrigins ?? []);
  const drainTimeoutMs = options.drainTimeoutMs ?? timeoutMs + 5_000;
  let stopped: Promise<void> | undefined;
  const stop = async () => {
    stopping = true;
    await drainAndClose(server, connections, drainTimeoutMs, options.log);
  };
  return { url, server, stop: () => (stopped ??= stop()) };
}
