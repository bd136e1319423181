import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiGatewayBroadcaster } from '../../lambdas/adapters/apigw-broadcaster';
import { DynamoConnectionRegistry } from '../../lambdas/adapters/dynamo-connection-registry';
import type { FanoutDeps } from '../../lambdas/core/fanout';
import { PROTOCOL_VERSION } from '../../lambdas/core/frames';
import { PgDeadLetterLog } from '../../lambdas/adapters/pg-dead-letter-log';
import { createPool, PgRecordStore } from '../../lambdas/adapters/pg-record-store';
import { SqsRedelivery } from '../../lambdas/adapters/sqs-redelivery';
import { DynamoPipelineState } from '../../lambdas/adapters/dynamo-pipeline-state';
import { packQueueMessages, recordIds, toQueuedRecords } from '../../lambdas/core/record';
import { makeBatchWriterHandler } from '../../lambdas/handlers/batch-writer';
import { localDocumentClient, localManagementClient, provisionPipelineStateTable } from '../../local/services';
import { lambdaContext, sqsEvent, sqsRecord } from '../fixtures/events';
import { connectMonitor, startTestStack, waitFor, type Monitor } from '../support/stack';

const body = (userId: string, count: number, key?: string) =>
  packQueueMessages(
    userId,
    '2024-06-01T00:00:00Z',
    toQueuedRecords(Array.from({ length: count }, (_, i) => ({ data: i, date: `2024-06-01T00:${String(i % 60).padStart(2, '0')}:00Z` })), recordIds(count, userId, key)),
  )[0]!;

describe('the batch writer with PostgreSQL and the WebSocket gateway', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let doc: DynamoDBDocumentClient;
  let management: ApiGatewayManagementApiClient;
  let fanout: FanoutDeps;
  let admin: Monitor;
  const queueDeps = () => ({ redelivery: new SqsRedelivery(stack.sqs), deadLetters: new PgDeadLetterLog(stack.pool) });

  beforeAll(async () => {
    stack = await startTestStack();
    doc = localDocumentClient(stack.dynamoEndpoint);
    management = localManagementClient(stack.ws.managementEndpoint);
    fanout = { registry: new DynamoConnectionRegistry(doc, stack.tableName), broadcaster: new ApiGatewayBroadcaster(management) };
    admin = await connectMonitor(stack.wsUrl, (await stack.identity.tokenFor('root', true)).access_token);
  });
  afterAll(async () => {
    await admin.close();
    management.destroy();
    doc.destroy();
    await stack.cleanup();
  });

  it('stores the valid messages of a batch, reports the malformed one, and pushes them again when they come back', async () => {
    const writer = makeBatchWriterHandler({ store: new PgRecordStore(stack.pool), fanout, ...queueDeps() });
    const good = [body('alice', 10, 'a'), body('bob', 5, 'b')];
    const event = sqsEvent([good[0]!, '{"not":"a batch"}', good[1]!]);
    const before = admin.pushedIds().length;

    const result = await writer(event, lambdaContext());

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]!.messageId }]);
    const stored = await stack.pool.query("SELECT count(*)::int AS n FROM records WHERE user_id IN ('alice','bob')");
    expect(stored.rows[0].n).toBe(15);
    await waitFor(() => admin.pushedIds().length === before + 15);

    // The same messages again (a redelivery, as after an invocation that ended after its commit):
    // nothing new is stored, and the rows are pushed again, since the first push may never have
    // happened. Monitors dedupe by id.
    const again = await writer(sqsEvent(good), lambdaContext());
    expect(again.batchItemFailures).toEqual([]);
    await waitFor(() => admin.pushedIds().length === before + 30);
    expect((await stack.pool.query("SELECT count(*)::int AS n FROM records WHERE user_id IN ('alice','bob')")).rows[0].n).toBe(15);
    expect(new Set(admin.pushedIds().slice(before)).size).toBe(15);
  });

  it('returns every message to the queue when the database fails, and tells admins', async () => {
    const broken = createPool({ connection: stack.databaseUrl.replace(/\/[^/]+$/, '/no_such_database') });
    const writer = makeBatchWriterHandler({ store: new PgRecordStore(broken), fanout, ...queueDeps() });
    const event = sqsEvent([body('carol', 3), body('carol', 4)]);

    const result = await writer(event, lambdaContext());

    expect(result.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(event.Records.map((r) => r.messageId).sort());
    await waitFor(() => admin.frames.some((f) => f.type === 'status'));
    expect(admin.frames.find((f) => f.type === 'status')).toMatchObject({ type: 'status', level: 'error', stage: 'store', pending: 7 });
    await broken.end();
  });

  it('notes its last batch and last failure for the pipeline status, and calls a failure on the last receive dead-lettered', async () => {
    const state = new DynamoPipelineState(doc, await provisionPipelineStateTable(stack.dynamoEndpoint, 'writer-test-pipeline-state'));
    const writer = makeBatchWriterHandler({ store: new PgRecordStore(stack.pool), fanout, pipelineState: state, maxReceiveCount: 5, ...queueDeps() });
    expect(await state.read()).toEqual({ lastBatch: null, lastFailure: null });

    await writer(sqsEvent([body('dora', 4, 'd1'), body('dora', 3, 'd2')]), lambdaContext());
    await writer(sqsEvent([body('dora', 4, 'd1')]), lambdaContext()); // the first message again

    const { lastBatch } = await state.read();
    expect(lastBatch).toMatchObject({ messages: 1, records: 4, inserted: 0, duplicates: 4 });
    expect(lastBatch!.insert_ms).toBeGreaterThanOrEqual(0);
    // Accepted 2024-06-01 (the bodies' acceptance time), stored now: the lag is that long.
    expect(lastBatch!.lag_ms).toBeGreaterThan(Date.now() - Date.parse('2024-06-01T00:00:00Z') - 60_000);

    const broken = createPool({ connection: stack.databaseUrl.replace(/\/[^/]+$/, '/no_such_database') });
    const failing = makeBatchWriterHandler({ store: new PgRecordStore(broken), fanout, pipelineState: state, maxReceiveCount: 5, ...queueDeps() });
    const lastTry = sqsRecord(body('erin', 2), { attributes: { ApproximateReceiveCount: '5', SentTimestamp: '0', SenderId: 'test', ApproximateFirstReceiveTimestamp: '0' } });
    const framesBefore = admin.frames.length;
    await failing({ Records: [sqsRecord(body('erin', 3)), lastTry] }, lambdaContext());

    await waitFor(() => admin.frames.slice(framesBefore).some((f) => f.type === 'status'));
    const frame = admin.frames.slice(framesBefore).find((f) => f.type === 'status') as { message: string; dead_lettered?: number; pending: number };
    expect(frame).toMatchObject({ dead_lettered: 1, pending: 5 });
    expect(frame.message).toMatch(/dead-letter queue/);
    expect(frame.message).not.toMatch(/will be retried/);
    const { lastFailure, lastBatch: unchanged } = await state.read();
    expect(lastFailure).toMatchObject({ messages: 2, dead_lettered: 1 });
    expect(lastFailure!.reason).toMatch(/database/);
    expect(unchanged).toEqual(lastBatch);
    await broken.end();
  });

  it('succeeds when posts fail, because the rows are committed, and owes each monitor a missed frame', async () => {
    const deadManagement = localManagementClient('http://127.0.0.1:1', { maxAttempts: 1 });
    const writer = makeBatchWriterHandler({ store: new PgRecordStore(stack.pool), fanout: { ...fanout, broadcaster: new ApiGatewayBroadcaster(deadManagement) }, ...queueDeps() });

    const result = await writer(sqsEvent([body('dave', 2)]), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    const rows = (await stack.pool.query("SELECT stored_at FROM records WHERE user_id = 'dave'")).rows as { stored_at: string }[];
    expect(rows).toHaveLength(2);
    const owed = (await fanout.registry.list(0)).filter((c) => c.missed);
    expect(owed.map((c) => c.missed)).toEqual([{ count: 2, stored_from: rows[0]!.stored_at, stored_to: rows[0]!.stored_at }]);
    // The admin's next ping brings the missed frame (the $default route reports it).
    admin.socket.send('{"action":"ping"}');
    await waitFor(() => admin.frames.some((f) => f.type === 'missed'));
    expect(admin.frames.find((f) => f.type === 'missed')).toEqual({ type: 'missed', protocol_version: PROTOCOL_VERSION, count: 2, stored_from: rows[0]!.stored_at, stored_to: rows[0]!.stored_at });
    deadManagement.destroy();
  });

  it('hands stored messages back when no monitor can even be listed, and their retry pushes the rows', async () => {
    // DynamoDB unreachable: the connections cannot be listed, so nobody can be told.
    const deadDynamo = localDocumentClient('http://127.0.0.1:1');
    const store = new PgRecordStore(stack.pool);
    const blind = makeBatchWriterHandler({ store, fanout: { ...fanout, registry: new DynamoConnectionRegistry(deadDynamo, stack.tableName) }, ...queueDeps() });
    const event = sqsEvent([body('erin', 3)]);
    const before = admin.pushedIds().length;

    const first = await blind(event, lambdaContext());
    const retry = await makeBatchWriterHandler({ store, fanout, ...queueDeps() })(event, lambdaContext());

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0]!.messageId }]);
    expect(retry.batchItemFailures).toEqual([]);
    await waitFor(() => admin.pushedIds().length === before + 3);
    expect((await stack.pool.query("SELECT count(*)::int AS n FROM records WHERE user_id = 'erin'")).rows[0].n).toBe(3);
    deadDynamo.destroy();
  });
});
