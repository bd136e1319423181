/**
 * LOCAL_SERVICES=compose, without Docker: LocalStack serves SQS and DynamoDB on one edge port,
 * so a small edge here routes each call by its X-Amz-Target header to the shared fauxqs or
 * dynalite, and DATABASE_URL stands in for the compose PostgreSQL. This proves the stack's
 * compose wiring (one endpoint, queues and table provisioned there, no local queue); the compose
 * file itself needs a Docker engine, which this machine does not have.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localConfigFromEnv } from '../../local/config';
import { QUEUE_DIR, startLocalStack, type LocalStack } from '../../local/stack';
import { freshDatabase } from '../support/services';
import { connectMonitor, login, waitFor } from '../support/stack';

function startEdge(): Promise<Server> {
  const sqs = new URL(inject('sqsEndpoint'));
  const dynamo = new URL(inject('dynamoEndpoint'));
  const server = createServer((req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '').startsWith('DynamoDB') ? dynamo : sqs;
    const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A local stack on the edge's "LocalStack", with a fresh database and data folder. */
async function startComposeStack(edge: Server, dataDir: string, env: Record<string, string> = {}, drainTimeoutMs = 2_000): Promise<LocalStack> {
  return startLocalStack(
    localConfigFromEnv({
      LOCAL_SERVICES: 'compose',
      LOCALSTACK_ENDPOINT: `http://127.0.0.1:${(edge.address() as AddressInfo).port}`,
      DATABASE_URL: await freshDatabase(),
      PORT: '0',
      WS_PORT: '0',
      DATA_DIR: dataDir,
      BATCH_WINDOW_MS: '200',
      ...env,
    }),
    { drainTimeoutMs },
  );
}

describe('the local stack on compose services', () => {
  let edge: Server;
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    edge = await startEdge();
    dataDir = await mkdtemp(path.join(tmpdir(), 'dh-compose-'));
    stack = await startComposeStack(edge, dataDir);
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => edge.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('uses one LocalStack endpoint for the queue and the table, and carries records end to end', async () => {
    const edgeUrl = `http://127.0.0.1:${(edge.address() as AddressInfo).port}`;
    expect(stack.sqsEndpoint).toBe(edgeUrl);
    expect(stack.dynamoEndpoint).toBe(edgeUrl);
    const token = await login(stack.httpUrl);
    const monitor = await connectMonitor(stack.wsUrl, token);
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: 9, date: '2004-01-01T00:00:00Z' }),
    });
    const [id] = ((await response.json()) as { ids: string[] }).ids;
    await waitFor(() => monitor.pushedIds().includes(id!));
    await monitor.close();
  });

  it('keeps no queue of its own, even with records queued: LocalStack holds the queue', async () => {
    await stack.eventSource.stop();
    const token = await login(stack.httpUrl);
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: 10, date: '2004-01-01T00:01:00Z' }),
    });
    expect(response.status).toBe(202);
    await stack.stop();
    expect(await readdir(dataDir)).not.toContain(QUEUE_DIR);
  });
});

describe('the local stack with its writer left to LocalStack', () => {
  let edge: Server;
  let stack: LocalStack;
  let dataDir: string;

  beforeAll(async () => {
    edge = await startEdge();
    dataDir = await mkdtemp(path.join(tmpdir(), 'dh-compose-'));
    stack = await startComposeStack(edge, dataDir, { LOCAL_WRITER: 'false' }, 500);
  });
  afterAll(async () => {
    await stack?.stop();
    await new Promise((resolve) => edge.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });

  it('accepts uploads onto the queue but consumes nothing itself (LOCAL_WRITER=false)', async () => {
    const queued = async () =>
      Number((await stack.sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes?.ApproximateNumberOfMessages);
    const before = await queued();
    const token = await login(stack.httpUrl);

    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: 11, date: '2004-01-01T00:02:00Z' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    expect(response.status).toBe(202);
    expect(await queued()).toBe(before + 1);
    expect(stack.eventSource.stats.invocations).toBe(0);
  });
});
