/**
 * The client side of the protocol version: frames of a version the monitor client does not
 * know are set aside, and what they may have carried is fetched over the HTTP API instead, so a
 * shape change on the server loses no record for an old client. The WebSocket and fetch are
 * in-memory stand-ins here (no server is involved: the socket only carries the frame given).
 */
import { describe, expect, it } from 'vitest';
import { frame, PROTOCOL_VERSION as SERVER_VERSION } from '../../../lambdas/core/frames';
import { Monitor, PROTOCOL_VERSION } from '../../../web/monitor-client.js';

type Listener = (event: { data?: string; code?: number }) => void;

class FakeSocket {
  static last: FakeSocket | undefined;
  readyState = 0;
  readonly sent: string[] = [];
  private readonly listeners = new Map<string, Listener[]>();
  constructor(readonly url: string) {
    FakeSocket.last = this;
  }
  addEventListener(type: string, listener: Listener) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  emit(type: string, event: { data?: string; code?: number } = {}) {
    if (type === 'open') this.readyState = 1;
    if (type === 'close') this.readyState = 3;
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.emit('close', { code: 1000 });
  }
}

const STORED = '2024-05-01T10:00:00.000Z';
const record = { id: '01a2235e-e31f-719d-953b-51dd02728bdd', user_id: 'parsa', data: 1, date: STORED, accepted_at: STORED, stored_at: STORED };

function monitorWithFetches() {
  const queries: URLSearchParams[] = [];
  const delivered: { how: string; ids: string[] }[] = [];
  const fetch = async (url: URL) => {
    queries.push(url.searchParams);
    return new Response(JSON.stringify({ records: [record], next_cursor: null }), { status: 200 });
  };
  const monitor = new Monitor({
    httpUrl: 'http://127.0.0.1:1/',
    wsUrl: 'ws://127.0.0.1:1/',
    token: () => 't',
    onRecords: (records, how) => delivered.push({ how, ids: records.map((r) => r.id) }),
    WebSocket: FakeSocket,
    fetch: fetch as unknown as typeof globalThis.fetch,
    pingEveryMs: 3_600_000,
  }).start();
  const socket = FakeSocket.last!;
  socket.emit('open');
  return { monitor, socket, queries, delivered };
}

describe('the monitor client and the protocol version', () => {
  it('reads the version the server writes', () => {
    expect(PROTOCOL_VERSION).toBe(SERVER_VERSION);
  });

  it('reads frames of its own version', async () => {
    const { monitor, socket, delivered } = monitorWithFetches();
    socket.emit('message', { data: frame({ type: 'pong', time: STORED }) });
    socket.emit('message', { data: `{"type":"records","protocol_version":${PROTOCOL_VERSION},"groups":[{"user_id":"parsa","accepted_at":"${STORED}","stored_at":"${STORED}","records":[{"id":"${record.id}","data":1,"date":"${STORED}"}]}]}` });
    await monitor.stop();
    expect(delivered).toEqual([{ how: 'live', ids: [record.id] }]);
    expect(monitor.stats.unknownFrames).toBe(0);
  });

  it('sets aside a frame of another version and fetches from shortly before the newest record seen instead', async () => {
    const { monitor, socket, queries, delivered } = monitorWithFetches();
    socket.emit('message', { data: frame({ type: 'pong', time: STORED }) });
    socket.emit('message', { data: JSON.stringify({ type: 'records', protocol_version: PROTOCOL_VERSION + 1, batches: [{ rows: [record] }] }) });
    await monitor.pending;
    await monitor.stop();
    expect(monitor.stats.unknownFrames).toBe(1);
    expect(monitor.stats.catchUps).toBe(1);
    expect(queries).toHaveLength(1);
    expect(queries[0]!.get('time_field')).toBe('stored_at');
    expect(Date.parse(queries[0]!.get('start_time')!)).toBeLessThan(Date.parse(STORED));
    // The record reaches the caller once, fetched rather than read from a shape it cannot know.
    expect(delivered).toEqual([{ how: 'catch-up', ids: [record.id] }]);
  });
});
