/**
 * A database that cannot answer is a 503 with Retry-After, never a 500: the real query
 * handlers over a reader pointed at a port where nothing listens, at a server that accepts and
 * never speaks, and at the real PostgreSQL behind a proxy that stalls mid-session.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgRecordReader } from '../../lambdas/adapters/pg-record-reader';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { makeRecordsQueryHandler } from '../../lambdas/handlers/records-query';
import { makeSwingAnalyzeHandler } from '../../lambdas/handlers/swing-analyze';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { freshDatabase } from '../support/services';

const WINDOW = { start_time: '2024-05-01T00:00:00Z', end_time: '2024-05-02T00:00:00Z' };
const ADMIN = { sub: 'root', 'cognito:groups': '[admin]' };
const ROUTES = [
  ['records', makeRecordsQueryHandler],
  ['swing-analyze', makeSwingAnalyzeHandler],
] as const;

async function ask(reader: PgRecordReader, route: (typeof ROUTES)[number]) {
  const [name, make] = route;
  const event = { ...httpEvent({ method: 'GET', path: `/api/data/${name}`, claims: ADMIN }), queryStringParameters: WINDOW };
  const response = await make({ reader })(event, lambdaContext());
  return { status: response.statusCode, retryAfter: response.headers?.['retry-after'], body: JSON.parse(response.body!) };
}

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
/** Closes a server and every connection it still has. */
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of openSockets.get(server) ?? []) socket.destroy();
  });
const openSockets = new WeakMap<Server, Set<Socket>>();
/** A server that accepts connections and never says a word. */
function silentServer(): Server {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  openSockets.set(server, sockets);
  return server;
}

/** A TCP proxy to PostgreSQL that can hold every byte back, as a stalled server or network would. */
async function stallingProxy(target: URL) {
  const sockets = new Set<Socket>();
  const held: Array<() => void> = [];
  let stalled = false;
  const forward = (from: Socket, to: Socket) =>
    from.on('data', (chunk) => {
      if (stalled) held.push(() => to.write(chunk));
      else to.write(chunk);
    });
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const port = await listen(server);
  const url = new URL(target);
  url.port = String(port);
  return {
    url: url.toString(),
    stall: (on: boolean) => {
      stalled = on;
      if (!on) for (const release of held.splice(0)) release();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}

describe('a reader whose database is unavailable', () => {
  const pools: pg.Pool[] = [];
  const servers: Server[] = [];
  let databaseUrl: string;
  const pool = (connection: string, options: Partial<pg.ClientConfig> = {}) => {
    const p = createPool({ connection: { connectionString: connection, ...options } });
    pools.push(p);
    return p;
  };

  beforeAll(async () => {
    databaseUrl = await freshDatabase();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
    await Promise.all(servers.map(close));
  });

  it.each(ROUTES)('answers %s with 503 and Retry-After when nothing listens on the database port', async (...route) => {
    // Arrange: a port that was just free, on which nothing listens now
    const probe = createServer();
    const port = await listen(probe);
    await close(probe);
    const reader = new PgRecordReader(pool(`postgres://reader:secret@127.0.0.1:${port}/data_handler`));
    // Act
    const response = await ask(reader, route);
    // Assert
    expect(response).toEqual({
      status: 503,
      retryAfter: '5',
      body: { error: { code: 'database_unavailable', message: expect.stringMatching(/database is unavailable/) } },
    });
  });

  it('answers 503 when the server accepts connections and never speaks (within the connect timeout)', async () => {
    // Arrange
    const silent = silentServer();
    servers.push(silent);
    const port = await listen(silent);
    const reader = new PgRecordReader(pool(`postgres://reader:secret@127.0.0.1:${port}/data_handler`));
    // Act
    const response = await ask(reader, ROUTES[0]);
    // Assert
    expect(response.status).toBe(503);
    expect(response.body.error.code).toBe('database_unavailable');
  }, 20_000);

  it('answers 503 to both routes when the database stalls in mid-session, and 200 once it answers again', async () => {
    // Arrange: a working session through the proxy, then the proxy stops passing bytes
    const proxy = await stallingProxy(new URL(databaseUrl));
    const reader = new PgRecordReader(pool(proxy.url, { query_timeout: 500 }), { readTimeoutMs: 500 });
    const warm = await Promise.all([ask(reader, ROUTES[0]), ask(reader, ROUTES[1])]); // two open connections
    expect(warm.map((r) => r.status)).toEqual([200, 200]);
    proxy.stall(true);
    // Act
    const [page, analysis] = await Promise.all([ask(reader, ROUTES[0]), ask(reader, ROUTES[1])]);
    proxy.stall(false);
    const after = await ask(reader, ROUTES[0]);
    // Assert
    expect([page.status, page.retryAfter, page.body.error.code]).toEqual([503, '5', 'database_unavailable']);
    expect([analysis.status, analysis.retryAfter, analysis.body.error.code]).toEqual([503, '5', 'database_unavailable']);
    expect(after.status).toBe(200);
    await proxy.close();
  }, 30_000);

  it('still answers 500, not 503, to a failure that is not the database being unavailable', async () => {
    // Arrange: a database without the records table
    const reader = new PgRecordReader(pool(databaseUrl.replace(/\/[^/]+$/, '/postgres')));
    // Act
    const response = await ask(reader, ROUTES[0]);
    // Assert
    expect(response.status).toBe(500);
    expect(response.body.error.code).toBe('internal_error');
  });
});
