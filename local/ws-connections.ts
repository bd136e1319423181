/**
 * The connections of the local WebSocket API, as serverless-offline splits them from the
 * transport: the handshake (origin, REQUEST authorizer, $connect), each message routed to its
 * function, and $disconnect; with API Gateway's idle and lifetime limits on each connection.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, type WebSocketServer } from 'ws';
import { type FunctionName, WEBSOCKET_API } from '../lambdas/routes';
import type { WsEvent, WsResult } from '../lambdas/shared/websocket';
import { ConnectionInbox, type InboxLimits } from './ws-inbox';
import type { ManagedConnection } from './ws-management';

/** The local WebSocket stage: the management API is at `http://127.0.0.1:<port>/local`. */
export const STAGE = 'local';

export interface LiveConnection extends ManagedConnection {
  readonly id: string;
  readonly inbox: ConnectionInbox<Buffer>;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
}

/** What a connection has before its socket opens: who it is, as the events describe it. */
type ConnectionBase = Pick<LiveConnection, 'id' | 'connectedAt' | 'sourceIp' | 'userAgent'>;

/** What the connection steps share: the open connections, the functions, the limits. */
export interface WsConnections {
  readonly connections: Map<string, LiveConnection>;
  /** $disconnect calls in flight, which a stop waits for. */
  readonly pending: Set<Promise<void>>;
  /** Origins already logged as refused. */
  readonly refusedOrigins: Set<string>;
  readonly wss: WebSocketServer;
  readonly idleMs: number;
  readonly maxMs: number;
  readonly messageLimits: InboxLimits;
  readonly sendBufferBytes: number;
  readonly allowOrigin: ((origin: string) => boolean) | undefined;
  readonly log: (line: string) => void;
  /** Runs a function of the catalogue within API Gateway's integration timeout. */
  call<E, R>(name: FunctionName, event: E): Promise<R>;
}

function requestContext(routeKey: string, eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', c: ConnectionBase, domainName: string) {
  const now = Date.now();
  return {
    routeKey,
    eventType,
    extendedRequestId: randomUUID(),
    requestTime: new Date(now).toUTCString(),
    messageDirection: 'IN',
    stage: STAGE,
    connectedAt: c.connectedAt,
    requestTimeEpoch: now,
    identity: { sourceIp: c.sourceIp, userAgent: c.userAgent },
    requestId: randomUUID(),
    domainName,
    connectionId: c.id,
    apiId: 'local',
  };
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

function refuse(socket: Duplex, status: number, message: string) {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${message}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** A message's route: its `action` where a route has that name, else $default (non-JSON included), as API Gateway routes on `$request.body.action`. */
function routeOf(body: string): string {
  try {
    const action = (JSON.parse(body) as { action?: unknown })?.action;
    if (typeof action === 'string' && action in WEBSOCKET_API.routes && !action.startsWith('$')) return action;
  } catch {
    // Not JSON: $default takes it.
  }
  return '$default';
}

/**
 * API Gateway's answer to a throttled message. Sent only while the connection reads what it is
 * sent: a flood from a client that does not read is dropped without an answer each.
 */
function answerThrottled(c: LiveConnection, sendBufferBytes: number): void {
  if (c.socket.readyState !== WebSocket.OPEN || c.socket.bufferedAmount > sendBufferBytes / 2) return;
  c.socket.send(JSON.stringify({ message: 'Too Many Requests', connectionId: c.id, requestId: randomUUID() }));
}

/** Restarts the connection's idle timer: traffic either way keeps it open. */
export function touch(ws: WsConnections, c: LiveConnection): void {
  c.lastActiveAt = Date.now();
  if (c.idleTimer) c.idleTimer.refresh();
  else c.idleTimer = setTimeout(() => c.socket.close(1001, 'Going away'), ws.idleMs);
}

async function disconnect(ws: WsConnections, c: LiveConnection, code: number, reason: string, domainName: string): Promise<void> {
  c.inbox.close();
  clearTimeout(c.idleTimer);
  clearTimeout(c.maxTimer);
  ws.connections.delete(c.id);
  const event = {
    requestContext: { ...requestContext('$disconnect', 'DISCONNECT', c, domainName), disconnectStatusCode: code, disconnectReason: reason },
    isBase64Encoded: false,
  } as unknown as WsEvent;
  await ws.call<WsEvent, WsResult>(WEBSOCKET_API.routes.$disconnect, event).catch((e) => ws.log(`$disconnect failed: ${String(e)}`));
}

/** Runs a message's route and sends its response body back; a failure answers as API Gateway does. */
async function onMessage(ws: WsConnections, c: LiveConnection, data: Buffer, domainName: string): Promise<void> {
  const body = data.toString('utf8');
  const routeKey = routeOf(body);
  const fn = (WEBSOCKET_API.routes as Record<string, FunctionName>)[routeKey]!;
  const event = { requestContext: { ...requestContext(routeKey, 'MESSAGE', c, domainName), messageId: randomUUID() }, body, isBase64Encoded: false } as unknown as WsEvent;
  try {
    const result = await ws.call<WsEvent, WsResult>(fn, event);
    if (result?.body && c.socket.readyState === WebSocket.OPEN) c.socket.send(result.body);
  } catch (error) {
    ws.log(`${routeKey} failed: ${String(error)}`);
    if (c.socket.readyState === WebSocket.OPEN) {
      c.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: c.id, requestId: event.requestContext.requestId }));
    }
  }
}

/** Whether a handshake's page may connect; a refusal is logged once an origin (a page may retry in a loop). */
function originAllowed(ws: WsConnections, origin: string | undefined): boolean {
  if (origin === undefined || (ws.allowOrigin?.(origin) ?? false)) return true;
  if (ws.refusedOrigins.size < 100 && !ws.refusedOrigins.has(origin)) {
    ws.refusedOrigins.add(origin);
    ws.log(`refused WebSockets from pages of ${JSON.stringify(origin).slice(0, 200)}: neither the dashboard's origin nor in CORS_ALLOW_ORIGINS`);
  }
  return false;
}

/** A WebSocket upgrade: refused by origin, by the authorizer or by $connect, else opened. */
export async function handshake(ws: WsConnections, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  if (!originAllowed(ws, req.headers.origin)) return refuse(socket, 403, 'Forbidden');
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const domainName = req.headers.host ?? '127.0.0.1';
  const base: ConnectionBase = {
    id: randomBytes(9).toString('base64url'),
    connectedAt: Date.now(),
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
    userAgent: req.headers['user-agent'] ?? '',
  };
  const query = Object.fromEntries(url.searchParams);
  const headers = headersOf(req);
  const context = requestContext('$connect', 'CONNECT', base, domainName);
  try {
    const authEvent = {
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:us-east-1:000000000000:local/${STAGE}/$connect`,
      headers,
      queryStringParameters: query,
      requestContext: context,
    } as unknown as APIGatewayRequestAuthorizerEvent;
    let policy: APIGatewayAuthorizerResult;
    try {
      policy = await ws.call<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>(WEBSOCKET_API.authorizer, authEvent);
    } catch (error) {
      const unauthorized = (error as Error)?.message === 'Unauthorized';
      return refuse(socket, unauthorized ? 401 : 500, unauthorized ? 'Unauthorized' : 'Internal Server Error');
    }
    const allowed = policy.policyDocument.Statement.some((s) => s.Effect === 'Allow');
    if (!allowed) return refuse(socket, 403, 'Forbidden');
    const connectEvent = {
      requestContext: { ...context, authorizer: { ...policy.context, principalId: policy.principalId } },
      headers,
      queryStringParameters: query,
      isBase64Encoded: false,
    } as unknown as WsEvent;
    const result = await ws.call<WsEvent, WsResult>(WEBSOCKET_API.routes.$connect, connectEvent);
    const status = result?.statusCode ?? 200;
    if (status < 200 || status > 299) return refuse(socket, status, 'Forbidden');
    ws.wss.handleUpgrade(req, socket, head, (opened) => open(ws, opened, base, domainName));
  } catch (error) {
    ws.log(`$connect failed: ${String(error)}`);
    refuse(socket, 500, 'Internal Server Error');
  }
}

/** An accepted connection: its inbox, its timers, and $disconnect when it closes. */
function open(ws: WsConnections, socket: WebSocket, base: ConnectionBase, domainName: string): void {
  const c: LiveConnection = {
    ...base,
    socket,
    lastActiveAt: Date.now(),
    inbox: new ConnectionInbox<Buffer>(ws.messageLimits, (data) => onMessage(ws, c, data, domainName), () => answerThrottled(c, ws.sendBufferBytes)),
  };
  ws.connections.set(c.id, c);
  touch(ws, c);
  c.maxTimer = setTimeout(() => socket.close(1001, 'Going away'), ws.maxMs);
  socket.on('message', (data: Buffer) => {
    touch(ws, c);
    c.inbox.push(data);
  });
  socket.on('close', (code, reason) => {
    const done = disconnect(ws, c, code, reason.toString(), domainName);
    ws.pending.add(done);
    void done.finally(() => ws.pending.delete(done));
  });
  socket.on('error', () => undefined);
}
