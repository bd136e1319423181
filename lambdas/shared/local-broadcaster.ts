/**
 * The broadcaster of a function that pushes to monitors: the management API over its SDK
 * (ApiGatewayBroadcaster), or, in an execution environment of the local runtime that has a
 * channel to the local WebSocket gateway, that channel, with the SDK behind it for whatever the
 * channel cannot carry (local/ws-management.ts). The global is set by local/function-worker.mjs
 * only; on AWS it is absent.
 *
 * Over the channel a post skips what only the HTTP API needs (the SDK's middleware, signing,
 * an HTTP request each way) and gets the same answers, decided by the same code as the
 * gateway's `@connections` API: 410, 413, 429, or delivered; no answer within the post's
 * deadline is a PostTimeoutError.
 */
import { ApiGatewayBroadcaster, FrameBytes, postOutcome } from '../adapters/apigw-broadcaster';
import { PostTimeoutError } from '../core/errors';
import type { Broadcaster, PostOutcome } from '../core/ports';
import { MANAGEMENT_CLIENT_SETTINGS, managementClient } from './management-client';

/** What the channel answers a post: its HTTP status and message, 'timeout', or 'closed' (then the SDK posts). */
export type ChannelPostAnswer = { readonly status: number; readonly message?: string } | 'timeout' | 'closed';

/** Posts over the local runtime's channel; the gateway answers within `timeoutMs` or not at all. */
export type ChannelPoster = (connectionId: string, data: Uint8Array, timeoutMs: number) => Promise<ChannelPostAnswer>;

type LocalPosterFactory = (endpoint: string) => ChannelPoster | undefined;

/** A post's bound when the caller gives none: the management client's own request timeout. */
const DEFAULT_POST_TIMEOUT_MS = MANAGEMENT_CLIENT_SETTINGS.requestHandler.requestTimeout;

/**
 * A frame's UTF-8 bytes in shared memory: every post of it to the gateway's thread shares them
 * rather than copying 128 KB a connection (and the main thread allocating each copy).
 */
function sharedUtf8(data: string): Uint8Array {
  const bytes = new Uint8Array(new SharedArrayBuffer(Buffer.byteLength(data, 'utf8')));
  Buffer.from(bytes.buffer, 0, bytes.length).write(data, 'utf8');
  return bytes;
}

export class ChannelBroadcaster implements Broadcaster {
  private readonly frames = new FrameBytes(undefined, sharedUtf8);

  constructor(
    private readonly poster: ChannelPoster,
    private readonly fallback: Broadcaster,
  ) {}

  async post(connectionId: string, data: string, timeoutMs?: number): Promise<PostOutcome> {
    const bound = Math.max(1, Math.floor(timeoutMs ?? DEFAULT_POST_TIMEOUT_MS));
    const answer = await this.poster(connectionId, this.frames.of(data), bound);
    if (answer === 'closed') return this.fallback.post(connectionId, data, timeoutMs);
    if (answer === 'timeout') throw new PostTimeoutError(`posting to ${connectionId} got no answer within ${bound} ms`);
    return postOutcome(connectionId, answer.status, false, answer.message === undefined ? undefined : new Error(answer.message));
  }
}

/** The broadcaster for the WebSocket stage at `endpoint`. */
export function broadcaster(endpoint: string): Broadcaster {
  const sdk = new ApiGatewayBroadcaster(managementClient(endpoint));
  const local = (globalThis as Record<symbol, unknown>)[Symbol.for('data-handler.local.post-channel')] as LocalPosterFactory | undefined;
  const poster = local?.(endpoint);
  return poster ? new ChannelBroadcaster(poster, sdk) : sdk;
}
