import { v5 as uuidv5 } from 'uuid';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../lambdas/core/errors';
import {
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_QUEUE_MESSAGE_BYTES,
  RECORD_ID_NAMESPACE,
  QueueMessage,
  RecordBatchInput,
  RecordInput,
  exactQueueMessage,
  exactUploadRecords,
  packQueueMessages,
  parseIdempotencyKey,
  parseQueueMessage,
  parseUploadBody,
  recordIds,
  toQueuedRecords,
} from '../../../lambdas/core/record';

function issuesOf(body: unknown) {
  try {
    parseUploadBody(body);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).details;
  }
  throw new Error('expected a ValidationError');
}

describe('upload body validation', () => {
  it('accepts one record and a batch of records', () => {
    expect(parseUploadBody({ data: 1, date: '2024-01-01T00:00:00Z' })).toEqual([{ data: 1, date: '2024-01-01T00:00:00Z' }]);
    expect(parseUploadBody({ records: [{ data: -2147483648, date: '2024-01-01T00:00:00Z' }, { data: 2147483647, date: '2024-01-01T00:00:00+01:00' }] })).toHaveLength(2);
  });

  it.each([
    ['a string for a number', { data: '5', date: '2024-01-01T00:00:00Z' }, 'data'],
    ['a fraction', { data: 1.5, date: '2024-01-01T00:00:00Z' }, 'data'],
    ['an int32 overflow', { data: 2147483648, date: '2024-01-01T00:00:00Z' }, 'data'],
    ['an int32 underflow', { data: -2147483649, date: '2024-01-01T00:00:00Z' }, 'data'],
    ['a missing value', { date: '2024-01-01T00:00:00Z' }, 'data'],
    ['null data', { data: null, date: '2024-01-01T00:00:00Z' }, 'data'],
    ['a date without a zone', { data: 1, date: '2024-01-01T00:00:00' }, 'date'],
    ['a date as a number', { data: 1, date: 1704067200 }, 'date'],
    ['an impossible date', { data: 1, date: '2024-02-30T00:00:00Z' }, 'date'],
    ['an unknown field', { data: 1, date: '2024-01-01T00:00:00Z', user: 'x' }, 'user'],
    ['an empty batch', { records: [] }, 'records'],
    ['a batch that is not a list', { records: { data: 1 } }, 'records'],
    ['a bad record inside a batch', { records: [{ data: 1, date: '2024-01-01T00:00:00Z' }, { data: 'x', date: '2024-01-01T00:00:00Z' }] }, 'records.1.data'],
    ['an unknown field beside records', { records: [{ data: 1, date: '2024-01-01T00:00:00Z' }], extra: true }, 'extra'],
    ['an array body', [{ data: 1, date: '2024-01-01T00:00:00Z' }], ''],
    ['a scalar body', 42, ''],
  ])('refuses %s and names the field', (_, body, path) => {
    expect(issuesOf(body)?.map((i) => i.path)).toContain(path);
  });

  it('refuses more than 1000 records in one request', () => {
    const records = Array.from({ length: 1001 }, () => ({ data: 1, date: '2024-01-01T00:00:00Z' }));
    expect(issuesOf({ records })?.[0]).toMatchObject({ path: 'records', message: 'must hold at most 1000 records' });
  });

  it('lists every bad field, not just the first', () => {
    expect(issuesOf({ data: 'x', date: 'y', z: 1 })?.map((i) => i.path).sort()).toEqual(['data', 'date', 'z']);
  });
});

describe('record ids', () => {
  it('derives the same ids for the same user, key and position', () => {
    expect(recordIds(3, 'alice', 'key-1')).toEqual(recordIds(3, 'alice', 'key-1'));
  });

  it('gives different users different ids for the same key', () => {
    const alice = recordIds(2, 'alice', 'key-1');
    const bob = recordIds(2, 'bob', 'key-1');
    expect(alice.some((id) => bob.includes(id))).toBe(false);
  });

  it('gives each position in a request its own id', () => {
    expect(new Set(recordIds(1000, 'alice', 'k')).size).toBe(1000);
  });

  it('cannot be confused by separators inside the user or key', () => {
    expect(recordIds(1, 'a:b', 'c')).not.toEqual(recordIds(1, 'a', 'b:c'));
  });

  it('keeps the ids it has always given: the uuid package\'s v5 of [user, key, position] in the fixed namespace', () => {
    // Arrange: a user and a key of every shape a request may bring (any sub; keys of visible ASCII up to 128).
    const cases: [string, string][] = [
      ['alice', 'k'],
      ['0f3c2a9e-7a6b-4c1d-9e8f-123456789abc', 'sustained-41'],
      ['ünïcødé 用户 🙂', '"quoted"\\back\\slash'],
      ['u', '~'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH)],
    ];

    for (const [user, key] of cases) {
      // Act
      const ids = recordIds(1000, user, key);

      // Assert
      expect(ids).toEqual(Array.from({ length: 1000 }, (_, i) => uuidv5(JSON.stringify([user, key, i]), RECORD_ID_NAMESPACE)));
    }
    expect(recordIds(2, 'alice', 'key-1')).toEqual(['e0627d0c-82ed-5620-9e78-5ccc4239b64c', '57880f82-4960-517f-9432-606036766a28']);
  });

  it('makes UUIDv5 ids with a key and time-ordered UUIDv7 ids without one', () => {
    expect(recordIds(1, 'alice', 'k')[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5/);
    const ids = recordIds(50, 'alice');
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect([...ids].sort()).toEqual(ids);
  });

  it('checks the Idempotency-Key header', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
    expect(parseIdempotencyKey('abc-123')).toBe('abc-123');
    expect(() => parseIdempotencyKey('')).toThrow(ValidationError);
    expect(() => parseIdempotencyKey('has space')).toThrow(ValidationError);
    expect(() => parseIdempotencyKey('x'.repeat(129))).toThrow(ValidationError);
  });
});

describe('queue messages', () => {
  const records = toQueuedRecords(
    Array.from({ length: 1000 }, (_, i) => ({ data: -2147483648 + i, date: '2024-01-01T00:00:00.123456+01:00' })),
    recordIds(1000, 'alice'),
  );

  it('carries a whole request of 1000 records in one message', () => {
    const bodies = packQueueMessages('alice', '2024-01-01T00:00:00Z', records);
    expect(bodies).toHaveLength(1);
    expect(parseQueueMessage(bodies[0]!).records).toHaveLength(1000);
  });

  it('stores dates in canonical UTC form with microseconds', () => {
    expect(records[0]!.date).toBe('2023-12-31T23:00:00.123456Z');
  });

  it('splits only when one message would pass the size limit, losing nothing', () => {
    const bodies = packQueueMessages('alice', '2024-01-01T00:00:00Z', records, 10_000);
    expect(bodies.length).toBeGreaterThan(1);
    for (const body of bodies) expect(new TextEncoder().encode(body).length).toBeLessThanOrEqual(10_000);
    expect(bodies.flatMap((b) => parseQueueMessage(b).records)).toEqual(records);
    expect(MAX_QUEUE_MESSAGE_BYTES).toBe(1024 * 1024);
  });

  it('refuses a body that is not a record batch, saying why', () => {
    expect(() => parseQueueMessage('not json')).toThrow(/not JSON/);
    expect(() => parseQueueMessage('{"v":1}')).toThrow(/not a record batch/);
    expect(() => parseQueueMessage(JSON.stringify({ v: 1, user_id: 'a', accepted_at: '2024-01-01T00:00:00Z', records: [{ id: 'nope', data: 1, date: '2024-01-01T00:00:00Z' }] }))).toThrow(/records\.0\.id/);
  });
});

describe('the writer\'s exact check of a queue message', () => {
  const valid = () => ({
    v: 1,
    user_id: 'alice',
    accepted_at: '2024-01-01T00:00:00Z',
    records: [
      { id: '0190a6b4-7c3e-7d2a-8f3b-2b6c1d9e4f10', data: 7, date: '2024-01-01T00:00:00.123456Z' },
      { id: '6d1b3e0e-5f2a-5f55-9a3c-0b8f6f3f2a11', data: -2147483648, date: '2024-01-01T02:00:00+02:00' },
    ],
  });
  type Message = ReturnType<typeof valid>;
  // Each variant of a valid message, and whether the schema accepts it.
  const variants: [string, (m: Message) => unknown][] = [
    ['as it is', (m) => m],
    ['an upper-case id', (m) => ((m.records[0]!.id = m.records[0]!.id.toUpperCase()), m)],
    ['the nil id', (m) => ((m.records[0]!.id = '00000000-0000-0000-0000-000000000000'), m)],
    ['the largest int32', (m) => ((m.records[0]!.data = 2147483647), m)],
    ['one past the largest int32', (m) => ((m.records[0]!.data = 2147483648), m)],
    ['one below the smallest int32', (m) => ((m.records[0]!.data = -2147483649), m)],
    ['a fraction', (m) => ((m.records[0]!.data = 1.5), m)],
    ['a number in a string', (m) => ({ ...m, records: [{ ...m.records[0]!, data: '7' }] })],
    ['an id of version 0', (m) => ((m.records[0]!.id = '0190a6b4-7c3e-0d2a-8f3b-2b6c1d9e4f10'), m)],
    ['an id of another variant', (m) => ((m.records[0]!.id = '0190a6b4-7c3e-7d2a-cf3b-2b6c1d9e4f10'), m)],
    ['a date without a zone', (m) => ((m.records[1]!.date = '2024-01-01T00:00:00'), m)],
    ['a date of 7 fractional digits', (m) => ((m.records[1]!.date = '2024-01-01T00:00:00.1234567Z'), m)],
    ['February 30th', (m) => ((m.records[1]!.date = '2024-02-30T00:00:00Z'), m)],
    ['a bad accepted_at', (m) => ((m.accepted_at = 'yesterday'), m)],
    ['an empty user', (m) => ((m.user_id = ''), m)],
    ['version 2', (m) => ({ ...m, v: 2 })],
    ['no records', (m) => ({ ...m, records: [] })],
    ['records that are not a list', (m) => ({ ...m, records: { 0: m.records[0] } })],
    ['a record that is a list', (m) => ({ ...m, records: [[1, 2, 3]] })],
    ['a record of null', (m) => ({ ...m, records: [null] })],
    ['a field too many on the message', (m) => ({ ...m, extra: 1 })],
    ['a field too many on a record', (m) => ({ ...m, records: [{ ...m.records[0]!, extra: 1 }] })],
    ['a record without its date', (m) => ({ ...m, records: [{ id: m.records[0]!.id, data: 1, other: 'x' }] })],
    ['a message without its user', (m) => ({ v: 1, accepted_at: m.accepted_at, records: m.records, other: 'x' })],
    ['a __proto__ field', (m) => JSON.parse(JSON.stringify(m).replace('{"v":1', '{"__proto__":{},"v":1'))],
    ['not an object', () => [1]],
  ];

  it.each(variants)('agrees with the schema on %s', (_, vary) => {
    // Arrange: the variant as the writer gets it, parsed from its JSON text.
    const json: unknown = JSON.parse(JSON.stringify(vary(valid())));
    // Act
    const exact = exactQueueMessage(json);
    const schema = QueueMessage.safeParse(json);
    // Assert: accepted by both, as the same message, or left to the schema, which refuses it.
    if (exact) expect(schema).toEqual({ success: true, data: exact });
    else expect(schema.success).toBe(false);
  });

  it('accepts the messages the ingest function sends', () => {
    const records = toQueuedRecords([{ data: 1, date: '2024-05-01T10:00:00+02:00' }], recordIds(1, 'bob'));
    const body = packQueueMessages('bob', '2024-05-01T08:00:00Z', records)[0]!;
    expect(exactQueueMessage(JSON.parse(body))).toEqual(JSON.parse(body));
  });
});

describe('the ingest function\'s exact check of an upload body', () => {
  const record = { data: 7, date: '2024-01-01T02:00:00+02:00' };
  const bodies: [string, unknown][] = [
    ['one record', record],
    ['a batch of one', { records: [record] }],
    ['a batch of 1000', { records: Array.from({ length: 1000 }, () => record) }],
    ['a batch of 1001', { records: Array.from({ length: 1001 }, () => record) }],
    ['an empty batch', { records: [] }],
    ['a batch with a field too many', { records: [record], extra: 1 }],
    ['a record with a field too many', { ...record, extra: 1 }],
    ['a record in a batch with a field too many', { records: [{ ...record, id: 'x' }] }],
    ['a record without its date', { data: 1, when: record.date }],
    ['a fraction', { ...record, data: 0.5 }],
    ['one past the largest int32', { ...record, data: 2147483648 }],
    ['the smallest int32', { ...record, data: -2147483648 }],
    ['a number in a string', { ...record, data: '7' }],
    ['a date without a zone', { ...record, date: '2024-01-01T00:00:00' }],
    ['a date that is a number', { ...record, date: 1704067200 }],
    ['records that are not a list', { records: record }],
    ['a record that is null', { records: [null] }],
    ['a record that is a list', { records: [[7, record.date]] }],
  ];

  it.each(bodies)('agrees with the schemas on %s', (_, body) => {
    // Arrange: the body as the function gets it, parsed from its JSON text.
    const json = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
    // Act
    const exact = exactUploadRecords(json);
    const schema = 'records' in json ? RecordBatchInput.safeParse(json) : RecordInput.safeParse(json);
    // Assert: accepted by both, as the same records, or left to the schemas, which refuse it.
    if (exact) expect(schema.success && ('records' in schema.data ? schema.data.records : [schema.data])).toEqual(exact);
    else expect(schema.success).toBe(false);
  });
});
