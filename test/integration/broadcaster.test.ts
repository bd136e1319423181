/**
 * The fan-out through the real management API of the local WebSocket gateway, with the
 * connection registry on dynalite: over HTTP with the SDK, as on AWS, and over the channel the
 * local functions' environments post on (lambdas/shared/local-broadcaster.ts), which must
 * answer the same.
 */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiGatewayBroadcaster } from '../../lambdas/adapters/apigw-broadcaster';
import type { Broadcaster } from '../../lambdas/core/ports';
import { ChannelBroadcaster } from '../../lambdas/shared/local-broadcaster';
import { channelPoster } from '../../local/queue-channel-client.mjs';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import { DEFAULT_FANOUT, pushRecords } from '../../lambdas/core/fanout';
import { localDocumentClient, localManagementClient } from '../../local/services';
import { storedRecord } from '../fixtures/records';
import { connectMonitor, startTestStack, waitFor, type Monitor } from '../support/stack';

describe.each([
  ['over HTTP with the SDK', 'http'],
  ['over a function environment\'s channel', 'channel'],
] as const)('the broadcaster through the local WebSocket gateway, %s', (_, transport) => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let registry: DynamoConnectionRegistry;
  let broadcaster: Broadcaster;
  let management: ApiGatewayManagementApiClient;
  let doc: DynamoDBDocumentClient;
  const monitors: Monitor[] = [];

  beforeAll(async () => {
    stack = await startTestStack();
    doc = localDocumentClient(stack.dynamoEndpoint);
    registry = new DynamoConnectionRegistry(doc, stack.tableName);
    management = localManagementClient(stack.ws.managementEndpoint);
    const sdk = new ApiGatewayBroadcaster(management);
    broadcaster = transport === 'http' ? sdk : new ChannelBroadcaster(channelPoster(stack.ws.postChannel()), sdk);
  });
  afterAll(async () => {
    await Promise.all(monitors.map((m) => m.close()));
    management.destroy();
    doc.destroy();
    await stack.cleanup();
  });

  const monitor = async (userId: string, admin: boolean) => {
    const m = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor(userId, admin)).access_token);
    monitors.push(m);
    return m;
  };
  const options = { ...DEFAULT_FANOUT, remainingMs: () => 30_000 };

  it('registers each connection with its owner on $connect', async () => {
    const m = await monitor('dora', false);
    const mine = (await registry.list(Math.floor(Date.now() / 1000))).filter((c) => c.userId === 'dora');
    expect(mine).toHaveLength(1);
    expect(mine[0]!.expiresAt).toBeGreaterThan(Date.now() / 1000 + 7_000);
    await m.close();
    await waitFor(async () => (await registry.list(0)).every((c) => c.userId !== 'dora'));
  });

  it('delivers every record to an admin and only their own to a user', async () => {
    const [admin, alice, bob] = [await monitor('root', true), await monitor('alice', false), await monitor('bob', false)];
    const rows = [storedRecord({ user_id: 'alice' }), storedRecord({ user_id: 'bob' }), storedRecord({ user_id: 'carol' })];

    const report = await pushRecords(rows, { registry, broadcaster }, options);

    await waitFor(() => admin.pushedIds().length === 3 && alice.pushedIds().length === 1 && bob.pushedIds().length === 1);
    expect(admin.pushedIds()).toEqual(rows.map((r) => r.id));
    expect(alice.pushedIds()).toEqual([rows[0]!.id]);
    expect(bob.pushedIds()).toEqual([rows[1]!.id]);
    expect(report.framesDelivered).toBe(3);
  });

  it('removes a registered connection that the gateway answers 410 for', async () => {
    await registry.add({ connectionId: 'vanished', userId: 'alice', isAdmin: false, connectedAt: new Date().toISOString(), expiresAt: 4_000_000_000 });

    const report = await pushRecords([storedRecord({ user_id: 'alice' })], { registry, broadcaster }, options);

    expect(report.gone).toBe(1);
    expect((await registry.list(0)).map((c) => c.connectionId)).not.toContain('vanished');
  });

  it('answers a ping with a pong and anything else with a clear error', async () => {
    const m = await monitor('erin', false);
    m.socket.send(JSON.stringify({ action: 'ping' }));
    m.socket.send(JSON.stringify({ action: 'subscribe' }));
    m.socket.send('not json');
    await waitFor(() => m.frames.length === 3);
    // Each message is its own invocation, possibly in environments of their own, so the
    // answers may come back in any order, as on API Gateway.
    const answers = m.frames.map((f) => (f.type === 'pong' ? 'pong' : `${f.type}:${f.code}`)).sort();
    expect(answers).toEqual(['error:invalid_json', 'error:unknown_action', 'pong']);
  });

  it('refuses a post over 128 KB with 413 and delivers one of exactly 128 KB', async () => {
    const m = await monitor('frank', false);
    const connectionId = (await registry.list(0)).find((c) => c.userId === 'frank')!.connectionId;
    const exact = JSON.stringify({ pad: 'x'.repeat(128 * 1024 - 10) });
    expect(exact.length).toBe(128 * 1024);
    await expect(broadcaster.post(connectionId, exact)).resolves.toBe('delivered');
    await expect(broadcaster.post(connectionId, `${exact} `)).rejects.toThrow('Message too long: 131073 bytes, the limit is 131072');
    await waitFor(() => m.frames.length === 1);
  });
});
