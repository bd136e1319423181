/**
 * The whole loop over real sockets: log in, watch over the WebSocket, upload over HTTP, and see
 * every record stored in PostgreSQL and pushed exactly once.
 */
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { connectMonitor, handshakeStatus, login, startTestStack, waitFor, type Monitor } from '../support/stack';

describe('the local stack end to end', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let token: string;
  let monitor: Monitor;

  beforeAll(async () => {
    stack = await startTestStack({ QUEUE_VISIBILITY_TIMEOUT_S: '3', WRITER_TIMEOUT_MS: '3000', MAX_RECEIVE_COUNT: '3' });
    token = await login(stack.httpUrl);
    monitor = await connectMonitor(stack.wsUrl, token);
  });
  afterAll(async () => {
    await monitor?.close();
    await stack?.cleanup();
  });

  const upload = (body: unknown, headers: Record<string, string> = {}, bearer: string | null = token) =>
    fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const storedCount = async (ids: string[]) =>
    (await stack.pool.query('SELECT count(*)::int AS n FROM records WHERE id = ANY($1::uuid[])', [ids])).rows[0].n as number;

  it('answers /health once everything is ready', async () => {
    const response = await fetch(`${stack.httpUrl}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('stores and pushes 200 uploaded records exactly once each', async () => {
    const start = Date.parse('2024-03-01T00:00:00Z');
    const record = (i: number) => ({ data: (i % 100) + 1, date: new Date(start + i * 60_000).toISOString() });
    // 100 single-record uploads, two at a time as the demo does, then one batch of 100.
    const ids: string[] = [];
    for (let i = 0; i < 100; i += 2) {
      const answers = await Promise.all([upload(record(i)), upload(record(i + 1), {}, token)]);
      for (const a of answers) {
        expect(a.status).toBe(202);
        ids.push(...((await a.json()) as { ids: string[] }).ids);
      }
    }
    const batch = await upload({ records: Array.from({ length: 100 }, (_, i) => record(100 + i)) }, { 'content-type': 'application/json; charset=utf-8' });
    expect(batch.status).toBe(202);
    ids.push(...((await batch.json()) as { ids: string[] }).ids);
    expect(new Set(ids).size).toBe(200);

    await waitFor(() => ids.every((id) => monitor.pushedIds().includes(id)), 20_000);
    expect(await storedCount(ids)).toBe(200);
    const pushed = monitor.pushedIds().filter((id) => ids.includes(id));
    expect(pushed).toHaveLength(200);
    const frame = monitor.frames.find((f) => f.type === 'records');
    expect(frame.groups[0]).toEqual({
      user_id: 'parsa',
      accepted_at: expect.stringMatching(/Z$/),
      stored_at: expect.stringMatching(/Z$/),
      records: expect.any(Array),
    });
    expect(frame.groups[0].records[0]).toEqual({ id: expect.any(String), data: expect.any(Number), date: expect.stringMatching(/Z$/) });
  });

  it('accepts the seed system\'s URL with a trailing slash', async () => {
    const response = await fetch(`${stack.httpUrl}/api/data/upload/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: 3, date: '2024-04-02T00:00:00Z' }),
    });
    expect(response.status).toBe(202);
    const [id] = ((await response.json()) as { ids: string[] }).ids;
    await waitFor(() => monitor.pushedIds().includes(id!));
  });

  it('keeps microseconds from upload to push', async () => {
    const answer = await upload({ data: 7, date: '2024-04-01T12:00:00.000123+02:00' });
    const [id] = ((await answer.json()) as { ids: string[] }).ids;
    await waitFor(() => monitor.pushedIds().includes(id!));
    const pushed = monitor.pushedRecords().find((r) => r.id === id);
    expect(pushed?.date).toBe('2024-04-01T10:00:00.000123Z');
  });

  it('adds nothing when the same request is resent with the same Idempotency-Key', async () => {
    const body = { records: [{ data: 1, date: '2024-05-01T00:00:00Z' }, { data: 2, date: '2024-05-01T00:01:00Z' }] };
    const first = (await (await upload(body, { 'idempotency-key': 'resend-1' })).json()) as { ids: string[] };
    await waitFor(() => first.ids.every((id) => monitor.pushedIds().includes(id)));
    const second = (await (await upload(body, { 'idempotency-key': 'resend-1' })).json()) as { ids: string[] };
    expect(second.ids).toEqual(first.ids);

    await waitFor(() => stack.eventSource.stats.messagesDeleted >= stack.eventSource.stats.messagesReceived && stack.eventSource.busy === 0);
    await new Promise((r) => setTimeout(r, 500));
    expect(await storedCount(first.ids)).toBe(2);
    // The resend is enqueued again under the same ids: stored once, and a monitor may see its
    // rows again (pushes are at least once, deduplicated by id: docs/monitoring-protocol.md).
    expect(new Set(monitor.pushedIds().filter((id) => first.ids.includes(id)))).toEqual(new Set(first.ids));
  });

  it('sends a poison message to the DLQ while its batch-mates are stored', async () => {
    const good = packQueueMessages('parsa', '2024-01-01T00:00:00Z', toQueuedRecords([{ data: 5, date: '2024-07-01T00:00:00Z' }], recordIds(1, 'parsa')))[0]!;
    const goodId = JSON.parse(good).records[0].id as string;
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.queueUrl, MessageBody: '{"poison":true}' }));
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.queueUrl, MessageBody: good }));

    await waitFor(() => monitor.pushedIds().includes(goodId));
    let dead: string[] = [];
    await waitFor(async () => {
      const out = await stack.sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queue.dlqUrl, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }));
      dead = dead.concat((out.Messages ?? []).map((m) => m.Body!));
      return dead.length > 0;
    }, 20_000);
    expect(dead).toEqual(['{"poison":true}']);
    expect(await storedCount([goodId])).toBe(1);
  });

  describe('refuses bad input with a 400 that names the field, and stores nothing', () => {
    it.each([
      ['invalid JSON', '{"data":', 'invalid_json', undefined],
      ['a string for a number', { data: '1', date: '2024-01-01T00:00:00Z' }, 'validation_failed', 'data'],
      ['a fraction', { data: 1.5, date: '2024-01-01T00:00:00Z' }, 'validation_failed', 'data'],
      ['an out-of-range integer', { data: 2 ** 31, date: '2024-01-01T00:00:00Z' }, 'validation_failed', 'data'],
      ['a date without a zone', { data: 1, date: '2024-01-01T00:00:00' }, 'validation_failed', 'date'],
      ['an unknown field', { data: 1, date: '2024-01-01T00:00:00Z', extra: 1 }, 'validation_failed', 'extra'],
      ['too many records', { records: Array.from({ length: 1001 }, () => ({ data: 1, date: '2024-01-01T00:00:00Z' })) }, 'validation_failed', 'records'],
      ['a bad record in a batch', { records: [{ data: 1, date: '2024-01-01T00:00:00Z' }, { data: 1 }] }, 'validation_failed', 'records.1.date'],
    ])('%s', async (_, body, code, path) => {
      const received = stack.eventSource.stats.messagesReceived;
      const response = await upload(body);
      expect(response.status).toBe(400);
      const error = ((await response.json()) as { error: { code: string; details?: { path: string }[] } }).error;
      expect(error.code).toBe(code);
      if (path) expect(error.details?.map((d) => d.path)).toContain(path);
      await new Promise((r) => setTimeout(r, 300));
      expect(stack.eventSource.stats.messagesReceived).toBe(received);
    });

    it('415 for a body that is not JSON, 413 past the 10 MB gateway limit', async () => {
      expect((await upload('data=1', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(415);
      expect((await upload('x'.repeat(10 * 1024 * 1024 + 1))).status).toBe(413);
    });

    it('answers the dashboard\'s CORS preflight as the HTTP API does (other origins: test/e2e/local-edge.test.ts)', async () => {
      const dashboard = stack.httpUrl;
      const preflight = await fetch(`${stack.httpUrl}/api/data/upload`, {
        method: 'OPTIONS',
        headers: { origin: dashboard, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe(dashboard);
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
      const answer = await upload({ data: 1 }, { origin: dashboard });
      expect(answer.headers.get('access-control-allow-origin')).toBe(dashboard);
    });

    it('404 for a route that does not exist', async () => {
      expect((await fetch(`${stack.httpUrl}/api/data/nothing`)).status).toBe(404);
    });
  });

  describe('refuses callers without a valid token', () => {
    let forged: string;
    beforeAll(async () => {
      // The right claims and the stack's own key id, but signed by a key the stack does not trust.
      const { privateKey } = await generateKeyPair('RS256');
      forged = await new SignJWT({ client_id: 'data-handler-local', 'cognito:groups': ['admin'] })
        .setProtectedHeader({ alg: 'RS256', kid: stack.identity.jwks.keys[0]!.kid! })
        .setIssuer(stack.httpUrl)
        .setSubject('parsa')
        .setExpirationTime('1h')
        .sign(privateKey);
    });

    it('401 on HTTP with no token, a forged token, or a garbled header', async () => {
      for (const bearer of [null, forged, 'not-a-jwt']) {
        const response = await upload({ data: 1, date: '2024-01-01T00:00:00Z' }, {}, bearer);
        expect(response.status).toBe(401);
        expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
      }
    });

    it('401 on the WebSocket handshake with no token or a forged one; the connection never opens', async () => {
      expect(await handshakeStatus(`${stack.wsUrl}/`)).toBe(401);
      expect(await handshakeStatus(`${stack.wsUrl}/?token=${forged}`)).toBe(401);
    });

    it('401 for a wrong password at /auth/token', async () => {
      const response = await fetch(`${stack.httpUrl}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'parsa', password: 'wrong' }),
      });
      expect(response.status).toBe(401);
    });
  });
});
