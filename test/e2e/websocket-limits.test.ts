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
    const monitor = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('busy-user', false)).access_token);
    for (let i = 0; i < 4; i++) {
      monitor.socket.send('{"action":"ping"}');
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(monitor.frames.filter((f) => f.type === 'pong').length).toBe(4);
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
