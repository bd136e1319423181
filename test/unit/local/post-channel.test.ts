/**
 * The local functions' post channel when the gateway is not there to answer: a closed channel
 * hands the post to the SDK's broadcaster (over HTTP, as on AWS), and a channel that does not
 * answer within the post's deadline fails it as a timeout, as an HTTP post that hangs does.
 * Real MessageChannels; the fallback broadcaster records what reaches it.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PostTimeoutError } from '../../../lambdas/core/errors';
import type { Broadcaster } from '../../../lambdas/core/ports';
import { ChannelBroadcaster } from '../../../lambdas/shared/local-broadcaster';
import { ChannelClient, channelPoster } from '../../../local/queue-channel-client.mjs';
import { startWsGateway } from '../../../local/ws-gateway';

const recording = () => {
  const posts: string[] = [];
  const fallback: Broadcaster = { post: async (connectionId) => (posts.push(connectionId), 'delivered') };
  return { posts, fallback };
};

describe('a post over the local functions\' channel', () => {
  it('goes over the SDK when the gateway closed the channel', async () => {
    // Arrange
    const { port1, port2 } = new MessageChannel();
    const { posts, fallback } = recording();
    const broadcaster = new ChannelBroadcaster(channelPoster(port2), fallback);
    port1.close();
    await new Promise((resolve) => port2.once('close', resolve));
    // Act
    const outcome = await broadcaster.post('conn-1', '{"type":"records"}', 1_000);
    // Assert
    expect(outcome).toBe('delivered');
    expect(posts).toEqual(['conn-1']);
  });

  it('fails with PostTimeoutError when the gateway does not answer within the deadline', async () => {
    // Arrange: the gateway's end takes the post and never answers.
    const { port1, port2 } = new MessageChannel();
    const seen: unknown[] = [];
    port1.on('message', (post) => seen.push(post));
    const { posts, fallback } = recording();
    const broadcaster = new ChannelBroadcaster(channelPoster(port2), fallback);
    // Act
    const post = broadcaster.post('conn-2', '{"type":"records"}', 50);
    // Assert
    await expect(post).rejects.toBeInstanceOf(PostTimeoutError);
    expect(seen).toHaveLength(1);
    expect(posts).toEqual([]);
    port1.close();
  });

  it('maps the gateway\'s answers as the management API\'s: 410 gone, 429 throttled', async () => {
    // Arrange
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (post: { id: number; connectionId: string }) =>
      port1.postMessage({ id: post.id, status: post.connectionId === 'gone' ? 410 : 429, message: 'from the gateway' }),
    );
    const broadcaster = new ChannelBroadcaster(channelPoster(port2), recording().fallback);
    // Act / Assert
    await expect(broadcaster.post('gone', '{}', 1_000)).resolves.toBe('gone');
    await expect(broadcaster.post('full', '{}', 1_000)).rejects.toMatchObject({ name: 'ThrottledError' });
    port1.close();
  });

  it('is answered 500 for a post the gateway cannot read, and the gateway goes on answering', async () => {
    // Arrange: the real gateway on a free loopback port, with no functions behind it.
    const gateway = await startWsGateway({ port: 0, handlers: {}, log: () => undefined });
    try {
      const client = new ChannelClient(gateway.postChannel());
      // Act
      const garbled = await client.request<{ status: number }>({ connectionId: 'x' }, 1_000);
      const post = await channelPoster(gateway.postChannel())('nobody', new Uint8Array([123, 125]), 1_000);
      // Assert
      expect(garbled?.status).toBe(500);
      expect(post).toEqual({ status: 410, message: 'Gone' });
      client.close();
    } finally {
      await gateway.stop();
    }
  });
});
