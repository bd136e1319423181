/**
 * API Gateway's WebSocket limits as the local gateway enforces them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import { localDocumentClient } from '../../local/services';
import { connectMonitor, startTestStack, waitFor } from '../support/stack';

describe('WebSocket connection limits', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack({}, { wsIdleTimeoutMs: 400 });
  });
  afterAll(async () => stack.cleanup());
  const registry = () =>
    new DynamoConnectionRegistry(
      localDocumentClient(stack.dynamoEndpoint),
      stack.tableName,
    );

  it('closes an idle connection and forgets it, as API Gateway does after 10 minutes', async () => {
    const monitor = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('idle-user', false)).access_token);
    const closed = new Promise<number>((resolve) => monitor.socket.once('close', (code) => resolve(code)));

    expect(await closed).toBe(1001);
    await waitFor(async () => stack.ws.connectionCount() === 0 && (await registry().list(0)).every((c) => c.userId !== 'idle-user'));
  });

  it('keeps a connection open while the client keeps talking', async () => {
    // The $default function's first (cold) start can outlast this file's 400 ms idle timeout:
    // warm it first, on connections of their own.
    for (let attempt = 0; attempt < 10; attempt++) {
      const warm = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('warm-up', false)).access_token);
      warm.socket.send('{"action":"ping"}');
      await waitFor(() => warm.frames.some((f) => f.type === 'pong') || warm.socket.readyState === warm.socket.CLOSED, 10_000);
      const answered = warm.frames.some((f) => f.type === 'pong');
      await warm.close();
      if (answered) break;
    }
    const monitor = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('busy-user', false)).access_token);
    for (let i = 0; i < 4; i++) {
      monitor.socket.send('{"action":"ping"}');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Each ping is answered (the last one perhaps a moment after it was sent).
    await monitor.waitFor(() => monitor.frames.filter((f) => f.type === 'pong').length === 4, 5_000);
    expect(monitor.socket.readyState).toBe(monitor.socket.OPEN);
    await monitor.close();
  });

  it('closes a connection whose client sends a message over 128 KB', async () => {
    const monitor = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('big-user', false)).access_token);
    const closed = new Promise<number>((resolve) => monitor.socket.once('close', (code) => resolve(code)));
    monitor.socket.send('x'.repeat(128 * 1024 + 1));
    expect(await closed).toBe(1009);
  });
});
