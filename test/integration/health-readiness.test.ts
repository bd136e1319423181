/**
 * GET /health is readiness, proved with the real health handler and its real wiring
 * (readinessFromEnv: node-postgres, a new connection per probe) against real servers on
 * 127.0.0.1: the embedded PostgreSQL answers 200; a server that accepts TCP connections and
 * never says a word answers 503 within the connect deadline. That server stands in for a
 * postmaster stopped with SIGSTOP, whose kernel still completes the TCP handshake into its
 * listen backlog while the startup handshake is never answered (the shared PostgreSQL of the
 * test run is never stopped here; test/e2e/health-readiness.test.ts stops a stack's own).
 * Concurrent calls share one probe, counted as connections at the server.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { makeHealthHandler } from '../../lambdas/handlers/health';
import { readinessFromEnv } from '../../lambdas/shared/readiness';
import { httpEvent, lambdaContext } from '../fixtures/events';

const CONNECT_TIMEOUT_MS = 400;
const QUERY_TIMEOUT_MS = 400;

/** The health handler as deployed, wired from these variables. */
function healthFor(databaseUrl: string, reuseMs = 1000) {
  const readiness = readinessFromEnv({
    DATABASE_URL: databaseUrl,
    HEALTH_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    HEALTH_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    HEALTH_REUSE_MS: String(reuseMs),
  });
  const handler = makeHealthHandler({ readiness });
  const ask = async () => {
    const started = performance.now();
    const response = await handler(httpEvent({ method: 'GET', path: '/health', claims: null }), lambdaContext());
    return { status: response.statusCode!, headers: response.headers ?? {}, text: response.body!, body: JSON.parse(response.body!), ms: performance.now() - started };
  };
  return { ask, readiness };
}

/**
 * A TCP server on 127.0.0.1 that counts the connections it accepts. With `upstream` it passes
 * bytes both ways, but drops any simple query a client sends while `holdQueries()` says so;
 * without, it accepts and never writes a byte.
 */
async function countingServer(options: { upstream?: URL; holdQueries?: () => boolean } = {}) {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((client) => {
    accepted++;
    track(client);
    if (!options.upstream) return; // silent: never answers
    const upstream = connect(Number(options.upstream.port), options.upstream.hostname);
    track(upstream);
    // A simple-protocol query message starts with 'Q' (0x51); the startup packets never do.
    client.on('data', (chunk) => {
      if (!(chunk[0] === 0x51 && options.holdQueries?.())) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A URL of `base` (its credentials and database) at another port. */
const atPort = (base: string, port: number) => {
  const url = new URL(base);
  url.port = String(port);
  return url.toString();
};

describe('GET /health against real servers', () => {
  let databaseUrl: string;
  const servers: Array<{ close(): Promise<void> }> = [];
  const serve = async (options: Parameters<typeof countingServer>[0] = {}) => {
    const server = await countingServer(options);
    servers.push(server);
    return server;
  };

  beforeAll(() => {
    databaseUrl = inject('adminDatabaseUrl');
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it('answers 200 ok when a new session on the embedded PostgreSQL answers SELECT 1', async () => {
    // Arrange
    const health = healthFor(databaseUrl);

    // Act
    const answer = await health.ask();

    // Assert
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'ok' });
    expect(answer.headers['retry-after']).toBeUndefined();
    expect(answer.headers['cache-control']).toBe('no-store');
  });

  it('answers 503 degraded with Retry-After within the connect deadline when the server accepts TCP and never answers', async () => {
    // Arrange: the stand-in for a postmaster stopped with SIGSTOP (see the top of the file)
    const silent = await serve();
    const health = healthFor(atPort('postgres://data_handler_reader:not-for-the-client@127.0.0.1/data_handler', silent.port));

    // Act
    const answer = await health.ask();

    // Assert
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.body).toEqual({ status: 'degraded', reason: `PostgreSQL did not accept a new connection within ${CONNECT_TIMEOUT_MS} ms` });
    expect(silent.accepted()).toBe(1);
    // Given up at the connect timeout, within the probe's deadline (plus scheduling slack).
    expect(answer.ms).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    expect(answer.ms).toBeLessThan(CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + 500);
  });

  it('answers 503 when a new session opens but SELECT 1 gets no answer within the query deadline', async () => {
    // Arrange: the real PostgreSQL behind a proxy that passes the login and holds back queries
    const proxy = await serve({ upstream: new URL(databaseUrl), holdQueries: () => true });
    const health = healthFor(atPort(databaseUrl, proxy.port));

    // Act
    const answer = await health.ask();

    // Assert
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ status: 'degraded', reason: `PostgreSQL did not answer SELECT 1 within ${QUERY_TIMEOUT_MS} ms` });
    expect(answer.ms).toBeLessThan(CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + 500);
  });

  it('answers 503 naming a refused login, and never the password or the server\'s message', async () => {
    // Arrange
    const url = new URL(databaseUrl);
    url.password = 'wrong-password-9f3a';
    const health = healthFor(url.toString());

    // Act
    const answer = await health.ask();

    // Assert
    expect(answer.status).toBe(503);
    expect(answer.body).toEqual({ status: 'degraded', reason: 'PostgreSQL refused the login' });
    expect(answer.text).not.toMatch(/wrong-password|password authentication|postgres:|127\.0\.0\.1/);
  });

  it('answers 503 at once when nothing listens on the database port', async () => {
    // Arrange: a port that was just free
    const gone = await countingServer();
    await gone.close();
    const health = healthFor(atPort(databaseUrl, gone.port));

    // Act
    const answer = await health.ask();

    // Assert
    expect(answer.body).toEqual({ status: 'degraded', reason: 'PostgreSQL refused the connection (nothing listens on its port)' });
    expect(answer.ms).toBeLessThan(CONNECT_TIMEOUT_MS);
  });

  it('opens one connection for 40 calls at once, ready or not, and reuses the verdict for the next call', async () => {
    // Arrange: the embedded PostgreSQL through a counting proxy, and a silent server
    const proxy = await serve({ upstream: new URL(databaseUrl) });
    const silent = await serve();
    const ready = healthFor(atPort(databaseUrl, proxy.port), 60_000);
    const frozen = healthFor(atPort(databaseUrl, silent.port), 60_000);

    // Act
    const [readyAnswers, frozenAnswers] = await Promise.all([
      Promise.all(Array.from({ length: 40 }, () => ready.ask())),
      Promise.all(Array.from({ length: 40 }, () => frozen.ask())),
    ]);
    const [readyLater, frozenLater] = [await ready.ask(), await frozen.ask()];

    // Assert
    expect(readyAnswers.map((a) => a.status)).toEqual(Array(40).fill(200));
    expect(frozenAnswers.map((a) => a.status)).toEqual(Array(40).fill(503));
    expect([readyLater.status, frozenLater.status]).toEqual([200, 503]);
    expect([proxy.accepted(), silent.accepted()]).toEqual([1, 1]);
    expect([ready.readiness.probes, frozen.readiness.probes]).toEqual([1, 1]);
  });

  it('probes again once the verdict is older than HEALTH_REUSE_MS, and turns 200 when the database answers again', async () => {
    // Arrange: the embedded PostgreSQL through a proxy that holds queries back until told
    let hold = true;
    const proxy = await serve({ upstream: new URL(databaseUrl), holdQueries: () => hold });
    const health = healthFor(atPort(databaseUrl, proxy.port), 200);
    expect((await health.ask()).status).toBe(503);

    // Act
    hold = false;
    const statuses: number[] = [];
    const deadline = Date.now() + 5_000;
    while (statuses.at(-1) !== 200 && Date.now() < deadline) {
      statuses.push((await health.ask()).status);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // Assert: the 503 reused for a while (no new probe), then one probe that answered
    expect(statuses[0]).toBe(503);
    expect(statuses.at(-1)).toBe(200);
    expect(health.readiness.probes).toBe(2);
    expect(proxy.accepted()).toBe(2);
  });
});
