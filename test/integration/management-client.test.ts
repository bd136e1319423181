/**
 * One retry policy for pushes: the management client makes a single attempt per call, so a
 * throttled or failing post is retried only by the fan-out, with its back-off and inside the
 * function's deadline. A real HTTP server stands in for the management API here: API
 * Gateway's 429 and 5xx answers have no local equivalent (the local gateway never throttles).
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiGatewayBroadcaster } from '../../lambdas/adapters/apigw-broadcaster';
import { DEFAULT_FANOUT, pushRecords } from '../../lambdas/core/fanout';
import { managementClient } from '../../lambdas/shared/management-client';
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
