/**
 * One retry policy for pushes: the management client makes a single attempt per call, so a
 * throttled or failing post is retried only by the fan-out, with its back-off and inside the
 * function's deadline. A real HTTP server stands in for the management API here: API
 * Gateway's 429 and 5xx answers to a busy account, and a management API that never answers, have
 * no local equivalent.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ApiGatewayBroadcaster } from '../../lambdas/adapters/apigw-broadcaster';
import { PostTimeoutError } from '../../lambdas/core/errors';
import { DEFAULT_FANOUT, pushRecords } from '../../lambdas/core/fanout';
import { MANAGEMENT_CLIENT_SETTINGS, managementClient } from '../../lambdas/shared/management-client';
import { storedRecord } from '../fixtures/records';
import { MemoryRegistry } from '../support/memory-registry';

describe('pushes to a management API that keeps refusing', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  let status = 429;

  beforeAll(async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local-only');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-only');
    server = createServer((req, res) => {
      requests++;
      req.resume();
      const type = status === 429 ? 'LimitExceededException' : 'InternalServerErrorException';
      res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type });
      res.end(JSON.stringify({ message: 'refused' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise((resolve) => server.close(resolve));
  });

  const oneAdmin = () => new MemoryRegistry([{ connectionId: 'c1', userId: 'root', isAdmin: true, connectedAt: '2024-01-01T00:00:00Z', expiresAt: 4_000_000_000 }]);

  it.each([
    [429, 'throttled'],
    [503, 'a server error'],
  ])('sends one frame exactly maxAttempts times when every answer is %i (%s)', async (answer) => {
    requests = 0;
    status = answer;
    const broadcaster = new ApiGatewayBroadcaster(managementClient(endpoint));

    const report = await pushRecords([storedRecord()], { registry: oneAdmin(), broadcaster }, {
      ...DEFAULT_FANOUT,
      baseDelayMs: 1,
      remainingMs: () => 30_000,
    });

    expect(requests).toBe(DEFAULT_FANOUT.maxAttempts);
    expect(report).toMatchObject({ failed: 1, framesDelivered: 0 });
  });

  it('builds the client with a single attempt', async () => {
    expect(await managementClient(endpoint).config.maxAttempts()).toBe(1);
  });
});

describe('the posts of a fan-out', () => {
  let server: Server;
  let endpoint: string;
  const seen: { hash: string | undefined; body: Buffer }[] = [];

  beforeAll(async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local-only');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-only');
    server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      seen.push({ hash: req.headers['x-amz-content-sha256'] as string | undefined, body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise((resolve) => server.close(resolve));
  });

  it('signs each body with its own SHA-256, a frame posted to many connections included, never another frame\'s', async () => {
    const broadcaster = new ApiGatewayBroadcaster(managementClient(endpoint));
    const frames = ['{"type":"records","groups":[]}', '{"type":"pong","time":"2024-01-01T00:00:00Z"}', 'ünïcødé ✓'];

    for (const connection of ['a', 'b']) for (const data of frames) expect(await broadcaster.post(connection, data)).toBe('delivered');

    expect(seen.map((s) => s.body.toString('utf8'))).toEqual([...frames, ...frames]);
    for (const s of seen) expect(s.hash).toBe(createHash('sha256').update(s.body).digest('hex'));
  });
});

describe('a post to a management API that never answers', () => {
  let server: Server;
  let endpoint: string;
  const held = new Set<import('node:http').ServerResponse>();

  beforeAll(async () => {
    vi.stubEnv('AWS_REGION', 'us-east-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local-only');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local-only');
    // Takes the request and its body, then never answers: a management API (or a local gateway)
    // that waits on a client that does not read.
    server = createServer((req, res) => {
      req.resume();
      held.add(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hung`;
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('fails with PostTimeoutError at the deadline the caller gives', async () => {
    // Arrange
    const broadcaster = new ApiGatewayBroadcaster(managementClient(endpoint));
    const started = performance.now();

    // Act
    const outcome = await broadcaster.post('c1', '{"type":"pong"}', 300).catch((error: unknown) => error);

    // Assert: given up, not waited out (the server would hold it for ever).
    expect(outcome).toBeInstanceOf(PostTimeoutError);
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it("fails at the client's own request timeout when the caller gives none (the SDK would only warn without throwOnRequestTimeout)", async () => {
    // Arrange: the product's settings, with a shorter request timeout.
    const client = new ApiGatewayManagementApiClient({
      endpoint,
      ...MANAGEMENT_CLIENT_SETTINGS,
      requestHandler: { ...MANAGEMENT_CLIENT_SETTINGS.requestHandler, requestTimeout: 300 },
    });
    const broadcaster = new ApiGatewayBroadcaster(client);

    // Act
    const outcome = await broadcaster.post('c1', '{"type":"pong"}').catch((error: unknown) => error);

    // Assert
    expect(outcome).toBeInstanceOf(PostTimeoutError);
    client.destroy();
  });

  it('lets a fan-out return within its deadline, the frame noted as missed for the connection', async () => {
    // Arrange: 6 s left, 1 s kept back: every post must give up by then.
    const registry = new MemoryRegistry([{ connectionId: 'c1', userId: 'root', isAdmin: true, connectedAt: '2024-01-01T00:00:00Z', expiresAt: 4_000_000_000 }]);
    const broadcaster = new ApiGatewayBroadcaster(managementClient(endpoint));
    const deadline = performance.now() + 6_000;

    // Act
    const report = await pushRecords([storedRecord()], { registry, broadcaster }, {
      ...DEFAULT_FANOUT,
      postTimeoutMs: 400,
      baseDelayMs: 1,
      remainingMs: () => deadline - performance.now(),
    });

    // Assert
    expect(report).toMatchObject({ framesDelivered: 0, failed: 1, missedNoted: 1 });
    expect(performance.now()).toBeLessThan(deadline - 1_000);
    expect((await registry.list())[0]!.missed).toBeDefined();
  });
});
