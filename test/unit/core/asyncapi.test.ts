/**
 * The monitoring protocol's AsyncAPI document: valid AsyncAPI 3.0.0 by the official JSON Schema,
 * describing every frame the server builds, and strict enough that a frame of another shape
 * fails. Frames come from the code that sends them (frames.ts, the fan-out, the $default
 * handler) over in-memory ports; the contract test against a running stack reuses
 * test/support/asyncapi-contract.ts.
 */
import { describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../../../lambdas/core/asyncapi';
import { DEFAULT_FANOUT, pushRecords, pushStatus, type FanoutOptions } from '../../../lambdas/core/fanout';
import { frame, mergeMissed, missedOf, PROTOCOL_VERSION, recordsFrames } from '../../../lambdas/core/frames';
import type { Broadcaster, Connection } from '../../../lambdas/core/ports';
import { makeWsDefaultHandler } from '../../../lambdas/handlers/ws-default';
import { lambdaContext, wsEvent } from '../../fixtures/events';
import { storedRecord } from '../../fixtures/records';
import { asyncApiErrors, resolveRef, serverMessageTypes, validateClientMessage, validateFrame } from '../../support/asyncapi-contract';
import { MemoryRegistry } from '../../support/memory-registry';

type Json = Record<string, any>;

class RecordingBroadcaster implements Broadcaster {
  readonly posts: string[] = [];
  async post(_connectionId: string, data: string) {
    this.posts.push(data);
    return 'delivered' as const;
  }
}

const options = (): FanoutOptions => ({ ...DEFAULT_FANOUT, remainingMs: () => 60_000, sleep: async () => undefined });
const admin = (connectionId = 'admin'): Connection => ({ connectionId, userId: 'root', isAdmin: true, connectedAt: '2024-01-01T00:00:00Z', expiresAt: 4_000_000_000 });

/** Records of two owners and two statements, one of them from an upload of its own. */
const SAMPLE = [
  storedRecord({ user_id: 'alice', data: -2147483648 }),
  storedRecord({ user_id: 'alice', data: 2147483647, accepted_at: '2024-01-01T00:00:01.5Z' }),
  storedRecord({ user_id: 'bob', date: '2024-01-01T00:00:00.123456Z' }),
  storedRecord({ user_id: 'alice', stored_at: '2024-01-01T00:00:09.000001Z' }),
];

/** Every `$ref` anywhere in `node`. */
function refsIn(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(refsIn);
  if (!node || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) => (key === '$ref' && typeof value === 'string' ? [value] : refsIn(value)));
}

describe('the AsyncAPI document of the monitoring protocol', () => {
  it('is a valid AsyncAPI 3.0.0 document by the official JSON Schema', () => {
    const doc = asyncApiDocument();

    const errors = asyncApiErrors(doc);

    expect(errors).toEqual([]);
    expect(doc.asyncapi).toBe('3.0.0');
  });

  it('is refused by the same check when it is not AsyncAPI 3.0 (an AsyncAPI 2 operation verb)', () => {
    const doc = asyncApiDocument() as Json;
    doc.operations.sendRecords.action = 'publish';

    expect(asyncApiErrors(doc)).not.toEqual([]);
  });

  it('is still valid with a server, its host and stage path apart', () => {
    const doc = asyncApiDocument('wss://abc123.execute-api.eu-west-1.amazonaws.com/prod') as Json;

    expect(asyncApiErrors(doc)).toEqual([]);
    expect(doc.servers.monitoring).toMatchObject({ host: 'abc123.execute-api.eu-west-1.amazonaws.com', protocol: 'wss', pathname: '/prod' });
  });

  it('resolves every reference, and each operation uses messages of its own channel', () => {
    const doc = asyncApiDocument() as Json;

    for (const ref of refsIn(doc)) expect(() => resolveRef(doc, ref), ref).not.toThrow();
    for (const [name, op] of Object.entries<Json>(doc.operations)) {
      const prefix = `${op.channel.$ref}/messages/`;
      const names = Object.keys(resolveRef(doc, op.channel.$ref).messages as Json);
      for (const m of [...op.messages, ...(op.reply?.messages ?? [])]) {
        expect(m.$ref.startsWith(prefix), `${name}: ${m.$ref}`).toBe(true);
        expect(names, `${name}: ${m.$ref}`).toContain(m.$ref.slice(prefix.length));
      }
    }
  });

  it('says its protocol version, points to the protocol guide and documents the token on the channel', () => {
    const doc = asyncApiDocument() as Json;

    expect(doc.info.version).toBe(String(PROTOCOL_VERSION));
    expect(doc.info.description).toContain('docs/monitoring-protocol.md');
    expect(doc.channels.monitor.address).toBe('/');
    expect(doc.channels.monitor.description).toContain('`token` query parameter');
    expect(doc.channels.monitor.bindings.ws.query.required).toEqual(['token']);
  });

  it('has the application send every frame kind, and receive the ping', () => {
    const doc = asyncApiDocument() as Json;

    expect(serverMessageTypes(doc).sort()).toEqual(['error', 'missed', 'pong', 'records', 'status', undefined].sort());
    const received = Object.values<Json>(doc.operations).filter((op) => op.action === 'receive');
    expect(received.flatMap((op) => op.messages.map((m: Json) => resolveRef(doc, m.$ref).name))).toEqual(['ping']);
  });

  it('carries the schemas\' descriptions, so the document says what each field means', () => {
    const payload = (asyncApiDocument() as Json).components.messages.status.payload;

    expect(payload.description).toMatch(/admin/);
    expect(payload.properties.pending.description).toBe('Records waiting to be stored when this was sent.');
    expect(payload.properties.protocol_version).toMatchObject({ const: PROTOCOL_VERSION, description: expect.stringContaining('protocol version') });
  });

  it('is the same document every time it is built', () => {
    const [a, b] = [asyncApiDocument(), asyncApiDocument()];

    expect(a).toEqual(b);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

describe('frames the server builds, against the document', () => {
  it('accepts every records frame, from one group to several frames of several groups', () => {
    const frames = [...recordsFrames(SAMPLE), ...recordsFrames(SAMPLE.slice(0, 1)), ...recordsFrames(SAMPLE, 400)];
    expect(frames.length).toBeGreaterThan(2); // the 400-byte limit split the sample

    for (const f of frames) expect(validateFrame(f.data), f.data).toEqual([]);
    expect(JSON.parse(recordsFrames(SAMPLE)[0]!.data).groups).toHaveLength(3);
  });

  it('accepts the records, missed and status frames that the fan-out posts', async () => {
    const registry = new MemoryRegistry([admin()]);
    const broadcaster = new RecordingBroadcaster();
    await registry.noteMissed('admin', mergeMissed(missedOf(SAMPLE.slice(0, 2)), missedOf(SAMPLE.slice(3))));

    await pushRecords(SAMPLE, { registry, broadcaster }, options());
    await pushStatus({ level: 'error', stage: 'store', message: 'Storing 2 messages failed; 1 went to the dead-letter queue.', pending: 7, dead_lettered: 1 }, { registry, broadcaster }, options());
    await pushStatus({ level: 'warning', stage: 'push', message: 'slow', pending: 0 }, { registry, broadcaster }, options());

    expect(broadcaster.posts.map((p) => JSON.parse(p).type)).toEqual(['missed', 'records', 'status', 'status']);
    for (const post of broadcaster.posts) expect(validateFrame(post), post).toEqual([]);
  });

  it('accepts what the $default handler answers: a pong, a missed frame owed, and both error frames', async () => {
    const registry = new MemoryRegistry([admin('conn-1')]);
    const broadcaster = new RecordingBroadcaster();
    await registry.noteMissed('conn-1', missedOf(SAMPLE));
    const handler = makeWsDefaultHandler({ fanout: { registry, broadcaster }, now: () => new Date('2024-05-01T10:00:04.123Z') });
    const answer = async (body: string) => (await handler(wsEvent('$default', { body }), lambdaContext())).body!;

    const answers = [await answer('{"action":"ping"}'), await answer('not json'), await answer('{"action":"subscribe"}')];

    expect(answers.map((a) => JSON.parse(a).type)).toEqual(['pong', 'error', 'error']);
    expect(broadcaster.posts.map((p) => JSON.parse(p).type)).toEqual(['missed']);
    for (const text of [...answers, ...broadcaster.posts]) expect(validateFrame(text), text).toEqual([]);
  });

  it('accepts the examples the document gives, and the ping a client sends', () => {
    const messages = (asyncApiDocument() as Json).components.messages as Record<string, Json>;

    for (const [name, m] of Object.entries(messages)) {
      for (const example of m.examples) {
        const errors = name === 'ping' ? validateClientMessage(JSON.stringify(example.payload)) : validateFrame(JSON.stringify(example.payload));
        expect(errors, name).toEqual([]);
      }
    }
    expect(validateClientMessage('{"action":"ping"}')).toEqual([]);
    expect(validateClientMessage('{"action":"subscribe"}')).not.toEqual([]);
  });

  it.each([
    ['without its protocol version', JSON.stringify({ type: 'pong', time: '2024-05-01T10:00:04.123Z' })],
    ['of another protocol version', JSON.stringify({ type: 'pong', protocol_version: PROTOCOL_VERSION + 1, time: '2024-05-01T10:00:04.123Z' })],
    ['of the shape before groups (records at the top)', JSON.stringify({ type: 'records', protocol_version: PROTOCOL_VERSION, records: [SAMPLE[0]] })],
    ['with a field the document does not name', frame({ type: 'status', level: 'info', stage: 'push', message: 'm', pending: 0, extra: 1 } as never)],
    ['with a time that is not a date-time', frame({ type: 'pong', time: 'yesterday' })],
    ['with an error code the document does not list', frame({ type: 'error', code: 'teapot', message: 'm' } as never)],
    ['with a record id that is not a UUID', recordsFrames([storedRecord({ id: 'r-1' })])[0]!.data],
    ['with a count of 0 missed', frame({ type: 'missed', count: 0, stored_from: '2024-01-01T00:00:00Z', stored_to: '2024-01-01T00:00:00Z' })],
    ['of a type the document does not have', JSON.stringify({ type: 'hello', protocol_version: PROTOCOL_VERSION })],
    ['that is not JSON', '{"type":"pong"'],
  ])('refuses a frame %s', (_what, text) => {
    expect(validateFrame(text)).not.toEqual([]);
  });
});
