/**
 * The local `@connections` management API, as `@aws-sdk/client-apigatewaymanagementapi` calls
 * it: POST a message to a connection, GET its details, DELETE it. An unknown or closed
 * connection is 410 GoneException, a message over 128 KB is 413, as on API Gateway. It checks
 * no SigV4 signature: the gateway listens on 127.0.0.1 unless told otherwise.
 *
 * A post is answered once its frame is handed to the connection, never after the client has
 * read it: API Gateway does not make the caller wait on the client either. What a connection has
 * not read yet is bounded (`sendBufferBytes`): past the bound a post is refused with 429
 * LimitExceededException, API Gateway's answer when a connection's buffer is full, so the
 * fan-out notes the frame as missed and the monitor is told once it reads again.
 *
 * The local functions' environments post over a channel of their own instead of HTTP
 * (`postChannels`), answered by the same `postFrame`: the local runtime's saving, as the
 * embedded queue's channel is for sends (see docs/local-stack.md).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { WebSocket } from 'ws';

/** API Gateway's WebSocket limits, as the local gateway and its management API enforce them. */
export const WEBSOCKET_LIMITS = {
  maxMessageBytes: 128 * 1024,
  /** What one connection may hold unread in the gateway before posts to it are refused (429). */
  sendBufferBytes: 1024 * 1024,
  /**
   * Each connection's messages to the API (see local/ws-inbox.ts): 10 a second after a burst of
   * 20, 10 waiting at most. A monitor pings once a minute.
   */
  messages: { ratePerSecond: 10, burst: 20, maxQueued: 10 },
  idleTimeoutMs: 10 * 60_000,
  maxConnectionMs: 2 * 60 * 60_000,
  integrationTimeoutMs: 29_000,
} as const;

/** What the management API needs of a live connection. */
export interface ManagedConnection {
  readonly socket: WebSocket;
  readonly connectedAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  lastActiveAt: number;
}

/** Request ids: unique per gateway run, without a random UUID per post of a fan-out. */
const RUN_ID = randomUUID().slice(0, 23);
let requests = 0;

/** A JSON answer with the headers API Gateway sets (a request id, and the error type on errors). */
export function sendJson(res: ServerResponse, status: number, body?: unknown, errorType?: string) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-amzn-requestid': `${RUN_ID}-${(++requests).toString(16).padStart(12, '0')}`,
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(body === undefined ? undefined : JSON.stringify(body));
}

/** What a post to a connection came to, as the management API answers it. */
export interface PostAnswer {
  readonly status: 200 | 410 | 413 | 429;
  readonly message?: string;
  readonly errorType?: string;
}

/**
 * One post of `size` bytes to connection `c`, by HTTP or over a function's channel alike: 410 for
 * a connection that is gone, 413 over 128 KB (`bytes` is then not needed), 429 when the
 * connection holds too much unread, or the frame handed to the connection.
 */
export function postFrame<C extends ManagedConnection>(c: C | undefined, bytes: Uint8Array | undefined, size: number, sendBufferBytes: number, touch: (c: C) => void): PostAnswer {
  if (!c || c.socket.readyState !== WebSocket.OPEN) return { status: 410, message: 'Gone', errorType: 'GoneException' };
  if (size > WEBSOCKET_LIMITS.maxMessageBytes || !bytes) {
    return { status: 413, message: `Message too long: ${size} bytes, the limit is 131072`, errorType: 'PayloadTooLargeException' };
  }
  // Unread bytes: in ws's queue and the socket's, beyond what the kernel took.
  if (c.socket.bufferedAmount > 0 && c.socket.bufferedAmount + size > sendBufferBytes) {
    return { status: 429, message: 'Limit Exceeded: the connection is not reading what was sent to it', errorType: 'LimitExceededException' };
  }
  // The bytes go out as the text frame as they came: decoding them to a string for ws to
  // encode again was most of this gateway's time in a fan-out (bench fanout). A failed write
  // ends the connection, which its close handler sees.
  c.socket.send(bytes, { binary: false }, () => undefined);
  touch(c);
  return { status: 200 };
}

/** A post over a function's channel: the frame's UTF-8 bytes, and the request's id for its answer. */
interface ChannelPost {
  readonly id: number;
  readonly connectionId: string;
  readonly data: Uint8Array;
}

/**
 * Channels over which functions' environments post frames to the gateway's connections without
 * the HTTP API (lambdas/shared/local-broadcaster.ts): `open` makes one for a new environment,
 * `closeAll` ends every one when the gateway stops (their posts then go over HTTP, and fail as
 * they would there).
 */
export function postChannels<C extends ManagedConnection>(
  connections: ReadonlyMap<string, C>,
  touch: (c: C) => void,
  sendBufferBytes: number = WEBSOCKET_LIMITS.sendBufferBytes,
) {
  const open = new Set<MessagePort>();
  return {
    open(): MessagePort {
      const { port1, port2 } = new MessageChannel();
      open.add(port1);
      port1.on('message', (post: ChannelPost) => {
        try {
          const bytes = Buffer.from(post.data.buffer, post.data.byteOffset, post.data.byteLength);
          const { status, message } = postFrame(connections.get(post.connectionId), bytes, bytes.length, sendBufferBytes, touch);
          port1.postMessage({ id: post.id, status, ...(message === undefined ? {} : { message }) });
        } catch (error) {
          // A post the gateway cannot take is answered as the HTTP API's 500 would be, never a crash.
          port1.postMessage({ id: post?.id, status: 500, message: `Internal Server Error: ${String(error)}` });
        }
      });
      port1.on('close', () => open.delete(port1));
      port1.unref();
      return port2;
    },
    closeAll(): void {
      for (const port of open) port.close();
      open.clear();
    },
  };
}

/** The request handler of the management API over the gateway's live connections. */
export function managementApi<C extends ManagedConnection>(
  connections: ReadonlyMap<string, C>,
  touch: (c: C) => void,
  sendBufferBytes: number = WEBSOCKET_LIMITS.sendBufferBytes,
) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const match = /^(?:\/[^/?#]+)?\/@connections\/([^/?#]+)(?:[?#]|$)/.exec(req.url ?? '/');
    if (!match) return sendJson(res, 404, { message: 'Not Found' });
    const c = connections.get(decodeURIComponent(match[1]!));
    const chunks: Buffer[] = [];
    let size = 0;
    // Events rather than an async iterator: a fan-out makes thousands of these requests.
    await new Promise<void>((resolve, reject) => {
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= WEBSOCKET_LIMITS.maxMessageBytes) chunks.push(chunk);
      });
      req.once('end', resolve);
      req.once('error', reject);
    });
    if (!c || c.socket.readyState !== WebSocket.OPEN) return sendJson(res, 410, { message: 'Gone' }, 'GoneException');
    switch (req.method) {
      case 'POST': {
        const answer = postFrame(c, size <= WEBSOCKET_LIMITS.maxMessageBytes ? (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)) : undefined, size, sendBufferBytes, touch);
        return sendJson(res, answer.status, answer.status === 200 ? undefined : { message: answer.message }, answer.errorType);
      }
      case 'GET':
        return sendJson(res, 200, {
          ConnectedAt: new Date(c.connectedAt).toISOString(),
          Identity: { SourceIp: c.sourceIp, UserAgent: c.userAgent },
          LastActiveAt: new Date(c.lastActiveAt).toISOString(),
        });
      case 'DELETE':
        c.socket.close(1000, 'Closed by the server');
        return sendJson(res, 204);
      default:
        return sendJson(res, 405, { message: 'Method Not Allowed' });
    }
  };
}
