/**
 * The local WebSocket API: API Gateway's WebSocket API in front of the handler modules, and
 * its `@connections` management API that `@aws-sdk/client-apigatewaymanagementapi` calls.
 *
 * - The REQUEST authorizer and $connect run during the handshake, so a refused connect never opens.
 * - Messages route on `$request.body.action`, falling back to $default; a route's response
 *   body is sent back to the caller.
 * - API Gateway's limits: 128 KB per message, 10 minutes idle, 2 hours per connection.
 * - The management API answers 410 GoneException for an unknown connection. Locally it does not
 *   check SigV4 signatures; it listens on 127.0.0.1 unless `host` says otherwise.
 * - A handshake from a browser page (it carries `Origin`) of an origin that `allowOrigin` does
 *   not allow is refused with 403 before the authorizer runs: any page a developer opens could
 *   otherwise read the monitors' records with a token it got from the local login.
 *
 * Split as serverless-offline splits it: the transport here, the connections (handshake,
 * routing, $disconnect) in ws-connections.ts, the `@connections` API in ws-management.ts.
 */
import { createServer, type Server } from 'node:http';
import type { MessagePort } from 'node:worker_threads';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { FunctionName } from '../lambdas/routes';
import { invoke, type LambdaHandler } from './invoke';
import type { RunningGateway } from './http-gateway';
import { handshake, STAGE, touch, type WsConnections } from './ws-connections';
import type { InboxLimits } from './ws-inbox';
import { managementApi, postChannels, sendJson, WEBSOCKET_LIMITS } from './ws-management';

export { WEBSOCKET_LIMITS } from './ws-management';
export { STAGE } from './ws-connections';

export interface WsGatewayOptions {
  readonly port: number;
  /**
   * The address to listen on. Any other than loopback exposes the unauthenticated management
   * API to whoever reaches it (logged as a warning at start). @default '127.0.0.1'
   */
  readonly host?: string;
  readonly handlers: Partial<Record<FunctionName, LambdaHandler>>;
  readonly idleTimeoutMs?: number;
  readonly maxConnectionMs?: number;
  /**
   * Whether a page of this origin may connect (the dashboard's, the CORS allow-list's; see
   * origins.ts). Clients that send no `Origin` (not browsers) are not concerned.
   * @default - no page of any origin
   */
  readonly allowOrigin?: (origin: string) => boolean;
  /** Each connection's message limits (see ws-inbox.ts). @default WEBSOCKET_LIMITS.messages */
  readonly messageLimits?: InboxLimits;
  /** What a connection may hold unread before posts to it are refused. @default WEBSOCKET_LIMITS.sendBufferBytes */
  readonly sendBufferBytes?: number;
  readonly log?: (line: string) => void;
}

export interface RunningWsGateway extends RunningGateway {
  /** The management API endpoint (what CONNECTIONS_ENDPOINT points at). */
  readonly managementEndpoint: string;
  /** Open connections, for diagnostics and tests. */
  connectionCount(): number;
  /** A new channel for a function's environment to post frames over, without HTTP (ws-management.ts). */
  postChannel(): MessagePort;
}

/** How a client on this machine reaches a server that listens on `host`: a wildcard through loopback. */
export function reachableHost(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
}

/** Starts the WebSocket gateway and its management API, on 127.0.0.1 unless told otherwise. */
export async function startWsGateway(options: WsGatewayOptions): Promise<RunningWsGateway> {
  const ws = connectionsOf(options);
  const touched = (c: Parameters<typeof touch>[1]) => touch(ws, c);
  const onManagement = managementApi(ws.connections, touched, ws.sendBufferBytes);
  const channels = postChannels(ws.connections, touched, ws.sendBufferBytes);
  const server = createServer((req, res) => {
    onManagement(req, res).catch((error) => {
      ws.log(`management API: ${String(error)}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
    });
  });
  server.on('upgrade', (req, socket, head) => void handshake(ws, req, socket, head));
  const host = options.host ?? '127.0.0.1';
  const port = await listen(server, options.port, host, ws.log);
  const reachAt = reachableHost(host);
  return {
    url: `ws://${reachAt}:${port}`,
    managementEndpoint: `http://${reachAt}:${port}/${STAGE}`,
    server,
    connectionCount: () => ws.connections.size,
    postChannel: () => channels.open(),
    stop: () => {
      channels.closeAll();
      return stop(ws, server);
    },
  };
}

/** The gateway's connections, none open yet, with the options' limits and functions. */
function connectionsOf(options: WsGatewayOptions): WsConnections {
  return {
    connections: new Map(),
    pending: new Set(),
    refusedOrigins: new Set(),
    wss: new WebSocketServer({ noServer: true, maxPayload: WEBSOCKET_LIMITS.maxMessageBytes }),
    idleMs: options.idleTimeoutMs ?? WEBSOCKET_LIMITS.idleTimeoutMs,
    maxMs: options.maxConnectionMs ?? WEBSOCKET_LIMITS.maxConnectionMs,
    messageLimits: options.messageLimits ?? WEBSOCKET_LIMITS.messages,
    sendBufferBytes: options.sendBufferBytes ?? WEBSOCKET_LIMITS.sendBufferBytes,
    allowOrigin: options.allowOrigin,
    log: options.log ?? (() => undefined),
    call: <E, R>(name: FunctionName, event: E) => {
      const handler = options.handlers[name] as LambdaHandler<E, R> | undefined;
      if (!handler) throw new Error(`no handler for ${name}`);
      return invoke(handler, event, { functionName: name, timeoutMs: WEBSOCKET_LIMITS.integrationTimeoutMs });
    },
  };
}

/** Listens on `host`, warning when that is beyond loopback; resolves the port. */
async function listen(server: Server, port: number, host: string, log: (line: string) => void): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  if (!/^(127\.|::1$|localhost$)/.test(host)) {
    log(`WARNING: the WebSocket gateway listens on ${host}:${bound}, beyond this machine's loopback; its @connections management API checks no signature, so anything that reaches that address can push to or close any monitor's connection`);
  }
  return bound;
}

/** Closes every connection (Going away, then terminated after a second), waits for their $disconnect, then the server. */
async function stop(ws: WsConnections, server: Server): Promise<void> {
  const closing = [...ws.connections.values()].map(
    (c) => new Promise<void>((resolve) => {
      c.socket.once('close', () => resolve());
      c.socket.close(1001, 'Going away');
      setTimeout(() => {
        c.socket.terminate();
        resolve();
      }, 1_000).unref();
    }),
  );
  await Promise.all(closing);
  await Promise.all([...ws.pending]);
  ws.wss.close();
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
