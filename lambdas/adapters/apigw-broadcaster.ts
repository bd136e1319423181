/**
 * Broadcaster on the API Gateway management API (`POST @connections/{id}`).
 *
 * A fan-out posts the same frame to every connection. Its bytes are encoded, and their SHA-256
 * (SigV4's payload hash) computed, once per frame rather than once per post: at a thousand
 * monitors, hashing a 128 KB body a thousand times was a fifth of the writer's time (bench
 * fanout). The signer takes the hash from `x-amz-content-sha256`, the header it would set itself.
 */
import { createHash } from 'node:crypto';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { PostTimeoutError, RetryablePostError, ThrottledError } from '../core/errors';
import type { Broadcaster, PostOutcome } from '../core/ports';

/** The payload hash of each frame body this module encoded, by body. */
const payloadHashes = new WeakMap<Uint8Array, string>();
/** Frames encoded lately, by their text: the few a fan-out is posting at once. */
const FRAMES_KEPT = 16;
const clientsWithHashes = new WeakSet<ApiGatewayManagementApiClient>();

/** Lets the client's signer use a frame body's hash computed once (never a different one). */
function useFrameHashes(client: ApiGatewayManagementApiClient): void {
  if (clientsWithHashes.has(client)) return;
  clientsWithHashes.add(client);
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> };
      const hash = request.body instanceof Uint8Array ? payloadHashes.get(request.body) : undefined;
      if (hash && request.headers) request.headers['x-amz-content-sha256'] = hash;
      return next(args);
    },
    { step: 'build', name: 'framePayloadHash' },
  );
}

/** A post's HTTP status as the fan-out takes it: 'delivered', 'gone' (410), or the error to retry or give up on. */
export function postOutcome(connectionId: string, status: number | undefined, throttled: boolean, cause?: unknown): PostOutcome {
  if (status !== undefined && status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'gone';
  if (status === 429 || throttled) throw new ThrottledError(`throttled posting to ${connectionId}`, { cause });
  // No status: the request never got an answer (refused, reset, timed out).
  if (status === undefined || status >= 500) {
    throw new RetryablePostError(`posting to ${connectionId} failed${status ? ` with ${status}` : ''}`, { cause });
  }
  throw cause instanceof Error ? cause : new Error(`posting to ${connectionId} failed with ${status}`, { cause });
}

/** A frame's UTF-8 bytes in memory of their own. */
const utf8 = (data: string): Uint8Array => Buffer.from(data, 'utf8');

/** The UTF-8 bytes of the frames a fan-out is posting, encoded once each (`onEncoded` sees each new one). */
export class FrameBytes {
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(
    private readonly onEncoded: (bytes: Uint8Array) => void = () => undefined,
    private readonly encode: (data: string) => Uint8Array = utf8,
  ) {}

  of(data: string): Uint8Array {
    let bytes = this.encoded.get(data);
    if (!bytes) {
      if (this.encoded.size >= FRAMES_KEPT) this.encoded.clear();
      bytes = this.encode(data);
      this.onEncoded(bytes);
      this.encoded.set(data, bytes);
    }
    return bytes;
  }
}

export class ApiGatewayBroadcaster implements Broadcaster {
  /** Each frame's bytes and their payload hash, computed once while it is being fanned out. */
  private readonly frames = new FrameBytes((bytes) => payloadHashes.set(bytes, createHash('sha256').update(bytes).digest('hex')));

  constructor(private readonly client: ApiGatewayManagementApiClient) {
    useFrameHashes(client);
  }

  async post(connectionId: string, data: string, timeoutMs?: number): Promise<PostOutcome> {
    // The abort ends the request whatever its socket is doing; the client's own requestTimeout
    // (MANAGEMENT_CLIENT_SETTINGS) is the bound when the caller sets none.
    const abortSignal = timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: this.frames.of(data) }), abortSignal ? { abortSignal } : {});
      return 'delivered';
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (error as { name?: string }).name;
      if (name === 'GoneException') return 'gone';
      if (abortSignal?.aborted || name === 'TimeoutError') {
        throw new PostTimeoutError(`posting to ${connectionId} got no answer within ${timeoutMs ?? 'the client timeout of'} ms`, { cause: error });
      }
      return postOutcome(connectionId, status, name === 'LimitExceededException' || name === 'TooManyRequestsException', error);
    }
  }
}
