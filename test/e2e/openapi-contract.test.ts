/**
 * The OpenAPI document against the API it describes: it validates as OpenAPI 3.1, names every
 * route, and every answer the local stack gives (the same handlers as on AWS, behind the same
 * gateway rules) matches the schema the document gives for its status. A field added, renamed
 * or dropped in a handler fails here until the document says so too. The same for the
 * monitoring WebSocket and the AsyncAPI document the stack serves beside it.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../../lambdas/core/asyncapi';
import { HTTP_ROUTES } from '../../lambdas/routes';
import { asyncApiErrors, validateClientMessage, validateFrame } from '../support/asyncapi-contract';
import { login, startTestStack, waitFor } from '../support/stack';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>>; components: object };

describe('the OpenAPI document and the API it describes', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let doc: Doc;
  let admin: string;
  let user: string;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  const checked = new Set<string>();

  beforeAll(async () => {
    stack = await startTestStack();
    admin = await login(stack.httpUrl);
    user = (await stack.identity.tokenFor('contract-user', false)).access_token;
    doc = (await (await fetch(`${stack.httpUrl}/openapi.json`)).json()) as Doc;
    ajv.addSchema({ $id: 'api', components: doc.components });
  });
  afterAll(async () => stack?.cleanup());

  /** Calls the API and checks the answer against the document's schema for its route and status. */
  const call = async (method: 'GET' | 'POST', path: string, init: { token?: string; query?: Record<string, string>; body?: string; headers?: Record<string, string> } = {}) => {
    const url = `${stack.httpUrl}${path}${init.query ? `?${new URLSearchParams(init.query)}` : ''}`;
    const headers: Record<string, string> = { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers };
    if (init.token) headers.authorization = `Bearer ${init.token}`;
    const response = await fetch(url, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const body: unknown = await response.json();
    const documented = doc.paths[path]?.[method.toLowerCase()]?.responses[String(response.status)];
    expect(documented, `${method} ${path} answered ${response.status}, which the document does not list: ${JSON.stringify(body)}`).toBeDefined();
    const schema = documented!.content?.['application/json']?.schema;
    expect(schema, `${method} ${path} ${response.status} has no JSON schema`).toBeDefined();
    const valid = ajv.validate(rebase(schema!), body);
    expect(valid, `${method} ${path} ${response.status}: ${ajv.errorsText()} in ${JSON.stringify(body).slice(0, 400)}`).toBe(true);
    checked.add(`${method} ${path} ${response.status}`);
    return { status: response.status, body: body as any };
  };
  /** A response schema with its `#/components/...` references pointed at the registered document. */
  const rebase = (schema: object): object => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"api#/components/'));

  it('validates as an OpenAPI 3.1 document and describes every route the gateway serves', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
    for (const route of HTTP_ROUTES) expect(doc.paths[route.path]?.[route.method.toLowerCase()], `${route.method} ${route.path}`).toBeDefined();
    // Its version is the last one docs/api.md lists, with what changed.
    const table = /^\| Version \| Change \|\n((?:\|.*\n)+)/m.exec(await readFile('docs/api.md', 'utf8'))![1]!;
    const versions = [...table.matchAll(/^\| (\d+(?:\.\d+)*) \| /gm)].map((m) => m[1]);
    expect(versions.at(-1)).toBe((doc as unknown as { info: { version: string } }).info.version);
  });

  it('matches the answers of uploads: 202, 400, 401, 413, 415 and 422', async () => {
    expect((await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ data: 1, date: '2006-01-01T00:00:00Z' }) })).status).toBe(202);
    expect((await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ records: [{ data: 2, date: '2006-01-01T00:01:00Z' }] }) })).status).toBe(202);
    const bad = await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ records: [{ data: 'x', date: 'soon' }] }) });
    expect(bad.status).toBe(400);
    expect((await call('POST', '/api/data/upload', { body: '{}' })).status).toBe(401);
    expect((await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ records: [{ data: 1, date: '2006-01-01T00:00:00Z' }], pad: 'x'.repeat(1_100_000) }) })).status).toBe(413);
    expect((await call('POST', '/api/data/upload', { token: user, body: 'data=1', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    const key = { 'idempotency-key': 'contract-key-1' };
    expect((await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ data: 3, date: '2006-01-01T00:02:00Z' }), headers: key })).status).toBe(202);
    expect((await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ data: 4, date: '2006-01-01T00:02:00Z' }), headers: key })).status).toBe(422);
  });

  it('matches the answers of the queries: records both ways, the analysis, the series, and their 400s', async () => {
    const records = Array.from({ length: 40 }, (_, i) => ({ data: [5, 90, 10, 95, 20, 80][i % 6]! + i, date: new Date(Date.parse('2007-03-01T00:00:00Z') + i * 150_000).toISOString() }));
    const ids = (await call('POST', '/api/data/upload', { token: user, body: JSON.stringify({ records }) })).body.ids as string[];
    await waitFor(async () => (await stack.pool.query('SELECT count(*)::int AS n FROM records WHERE id = ANY($1::uuid[])', [ids])).rows[0].n === 40, 30_000);
    const window = { start_time: '2007-03-01T00:00:00Z', end_time: '2007-03-02T00:00:00Z' };

    const page = await call('GET', '/api/data/records', { token: user, query: { ...window, limit: '10' } });
    expect(page.body.records).toHaveLength(10);
    expect((await call('GET', '/api/data/records', { token: user, query: { ...window, cursor: page.body.next_cursor, limit: '100' } })).body.next_cursor).toBeNull();
    expect((await call('GET', '/api/data/records', { token: user, query: { ...window, order: 'desc', time_field: 'stored_at', start_time: new Date(Date.now() - 3_600_000).toISOString(), end_time: new Date(Date.now() + 60_000).toISOString() } })).status).toBe(200);
    const analysis = await call('GET', '/api/data/swing-analyze', { token: user, query: window });
    expect(analysis.body.signals.length).toBeGreaterThan(0);
    const drawn = await call('GET', '/api/data/swing-analyze', { token: user, query: { ...window, include: 'batches' } });
    expect(drawn.body.signals).toEqual(analysis.body.signals);
    expect(drawn.body.batches.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(40);
    expect((await call('GET', '/api/data/swing-analyze', { token: user, query: { start_time: '1990-01-01T00:00:00Z', end_time: '1990-01-02T00:00:00Z' } })).body.message).toBe('No Data to merge');
    expect((await call('GET', '/api/data/series', { token: user, query: window })).body.buckets.length).toBeGreaterThan(0);
    const grouped = (await call('GET', '/api/data/series', { token: admin, query: { ...window, group_by: 'user' } })).body;
    expect(grouped.users.map((u: { user_id: string }) => u.user_id)).toContain('contract-user');
    expect(grouped).toHaveProperty('other_users');
    for (const path of ['/api/data/records', '/api/data/swing-analyze', '/api/data/series']) {
      expect((await call('GET', path, { token: user, query: { start_time: 'yesterday' } })).status).toBe(400);
      expect((await call('GET', path, { query: window })).status).toBe(401);
    }
  });

  it('matches the pipeline status, which shows the last batch and a dead letter, and refuses non-admins with 403', async () => {
    expect((await call('GET', '/api/pipeline/status', { token: user })).status).toBe(403);
    expect((await call('GET', '/api/pipeline/status')).status).toBe(401);
    await stack.sqs.send(new SendMessageCommand({ QueueUrl: stack.queue.dlqUrl, MessageBody: '{"not":"a batch"}' }));

    let status: any;
    await waitFor(async () => {
      status = (await call('GET', '/api/pipeline/status', { token: admin })).body;
      return status.dead_letter_queue.visible === 1 && status.last_batch !== null;
    }, 30_000);
    expect(status.last_batch.records).toBeGreaterThan(0);
    expect(status.queue).toEqual({ visible: expect.any(Number), in_flight: expect.any(Number), delayed: expect.any(Number) });
  });

  it('matches the login, health and document answers', async () => {
    expect((await call('POST', '/auth/token', { body: JSON.stringify({ username: 'parsa', password: 'admin' }) })).status).toBe(200);
    expect((await call('POST', '/auth/token', { body: JSON.stringify({ username: 'parsa', password: 'wrong-password' }) })).status).toBe(401);
    expect((await call('POST', '/auth/token', { body: JSON.stringify({ username: '' }) })).status).toBe(400);
    expect((await call('POST', '/auth/token', { body: 'x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    expect((await call('GET', '/health')).status).toBe(200);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/asyncapi.json')).status).toBe(200);
  });

  it('serves the AsyncAPI document, and every frame the stack sends for records, a refused record, pings and bad messages matches it', async () => {
    const served = (await (await fetch(`${stack.httpUrl}/asyncapi.json`)).json()) as Record<string, unknown>;
    expect(asyncApiErrors(served)).toEqual([]);
    expect(served).toEqual(asyncApiDocument());

    const socket = new WebSocket(`${stack.wsUrl}/?token=${encodeURIComponent(admin)}`);
    const texts: string[] = [];
    socket.on('message', (data) => texts.push(data.toString()));
    await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
    const types = () => texts.map((t) => (JSON.parse(t) as { type: string }).type);
    try {
      for (const message of ['{"action":"ping"}']) expect(validateClientMessage(message, served)).toEqual([]);
      socket.send('{"action":"ping"}');
      socket.send('{"action":"subscribe"}');
      socket.send('not json');
      expect((await call('POST', '/api/data/upload', { token: admin, body: JSON.stringify({ data: 7, date: '2006-01-02T00:00:00Z' }) })).status).toBe(202);
      // A record the database refuses: the writer tells admin connections in a status frame.
      await stack.pool.query('ALTER TABLE records ADD CONSTRAINT contract_test_refuses CHECK (data <> -777)');
      expect((await call('POST', '/api/data/upload', { token: admin, body: JSON.stringify({ data: -777, date: '2006-01-02T00:00:00Z' }) })).status).toBe(202);
      await waitFor(() => ['pong', 'error', 'records', 'status'].every((t) => types().includes(t)) && types().filter((t) => t === 'error').length >= 2, 30_000);
    } finally {
      socket.close();
    }
    for (const text of texts) expect(validateFrame(text, served), text.slice(0, 300)).toEqual([]);
    expect(texts.map((t) => JSON.parse(t) as { type: string }).find((f) => f.type === 'status')).toMatchObject({ level: 'error', stage: 'store' });
  });

  it('was checked against every status the document promises that this stack can be made to give', () => {
    // 503s (a service down) and 429 (a login flood) have tests of their own; everything else ran above.
    const promised = Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).flatMap(([method, op]) => Object.keys(op.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`)));
    const untested = promised.filter((p) => !checked.has(p) && !/ (503|429)$/.test(p));
    expect(untested).toEqual([]);
  });
});
