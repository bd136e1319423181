/**
 * The local HTTP gateway against clients that stall, that send malformed requests, and at a
 * stop, over real sockets (node:net, so the test controls every byte and tells a clean close
 * from a reset). The gateway is the real one, in front of small handlers, with its receive
 * timeouts scaled down to a few hundred milliseconds.
 *
 * What a stop guarantees, and what it cannot: a request the gateway has read before it ended
 * the connection is answered whole (in flight: its answer, with `connection: close`; arrived
 * after the stop began: 503, `connection: close`), and no connection is reset. A request sent
 * on a kept-alive connection just as the gateway ends it, idle, is read after that end or not
 * at all: its client sees the connection close with no answer (a FIN, not a reset) and may send
 * it again, as HTTP/1.1 expects of clients that reuse connections (RFC 9112, 9.3.1).
 */
import type { Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { JwtVerifier } from '../../../lambdas/adapters/jwt-verifier';
import type { HttpEvent } from '../../../lambdas/shared/http';
import { localConfigFromEnv } from '../../../local/config';
import { startHttpGateway, type HttpGatewayOptions, type RunningGateway } from '../../../local/http-gateway';
import { RawConnection, rawRequest, type RawResponse } from '../../support/raw-http';
import { waitFor } from '../../support/stack';

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;
/** What a stalled request may wait past its timeout: Node checks every 30 ms here; the rest is room for a loaded machine. */
const MARGIN_MS = 1_000;

/**
 * Handlers for POST /auth/token (a small answer, or `x-answer-bytes` of them; held while
 * `x-gate` is set, running `x-work-ms` otherwise) and GET /health.
 */
function testHandlers() {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const calls: string[] = [];
  const handlers: HttpGatewayOptions['handlers'] = {
    'auth-token': async (event: unknown) => {
      const { headers, body } = event as HttpEvent;
      calls.push(headers['x-seq'] ?? '');
      if (headers['x-gate']) await gate;
      else await new Promise((resolve) => setTimeout(resolve, Number(headers['x-work-ms'] ?? 0)));
      const size = Number(headers['x-answer-bytes'] ?? 0);
      return { statusCode: 200, headers: { 'content-type': 'text/plain' }, body: size ? 'x'.repeat(size) : `got ${body?.length ?? 0}` };
    },
    health: async () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"ok"}' }),
  };
  return { handlers, calls, openGate: () => open() };
}

function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

function json(answer: RawResponse | undefined): unknown {
  return JSON.parse(answer?.body.toString('utf8') ?? 'null');
}

describe('the local HTTP gateway', () => {
  const gateways: RunningGateway[] = [];
  const gates: (() => void)[] = [];
  const logs: string[] = [];
  afterEach(async () => {
    for (const open of gates.splice(0)) open();
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    logs.length = 0;
  });

  async function start(options: Partial<HttpGatewayOptions> = {}) {
    const { handlers, calls, openGate } = testHandlers();
    gates.push(openGate);
    const gateway = await startHttpGateway({
      port: 0,
      handlers,
      // No token ever reaches it: a missing one is refused before the key set is fetched.
      verifier: new JwtVerifier({ issuer: 'http://127.0.0.1', audience: 'test', jwksUrl: 'http://127.0.0.1:9/.well-known/jwks.json' }),
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      log: (line) => logs.push(line),
      ...options,
    });
    gateways.push(gateway);
    return { gateway, calls, openGate };
  }

  describe('with clients that stall', () => {
    it('answers 408 (JSON, connection: close) to headers that never end, and to a connection that sends nothing, within the headers timeout', async () => {
      // Arrange
      const { gateway } = await start();
      const partial = await RawConnection.open(gateway.url);
      const silent = await RawConnection.open(gateway.url);
      const started = performance.now();

      // Act
      partial.write('POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl');
      const answers = await Promise.all([partial.response(), silent.response()]);
      const elapsed = performance.now() - started;
      await Promise.all([partial.whenClosed(), silent.whenClosed()]);

      // Assert
      console.log(`unfinished headers: 408 after ${elapsed.toFixed(0)} ms (headers timeout ${HEADERS_TIMEOUT_MS} ms)`);
      for (const [connection, answer] of [partial, silent].map((c, i) => [c, answers[i]] as const)) {
        expect(answer?.status).toBe(408);
        expect(answer?.headers).toMatchObject({ connection: 'close', 'content-type': 'application/json' });
        expect(json(answer)).toEqual({ message: 'Request Timeout' });
        expect(connection.error).toBeUndefined();
      }
      expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS);
      expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + MARGIN_MS);
    });

    it('answers 408 to a body that stalls, within the request timeout, and never runs its function, even when the rest of the body comes afterwards', async () => {
      // Arrange
      const { gateway, calls } = await start();
      const client = await RawConnection.open(gateway.url, { allowHalfOpen: true });
      const started = performance.now();

      // Act
      client.write(rawRequest('POST', '/auth/token', { 'content-type': 'application/json', 'content-length': '100' }) + '{"username":');
      const answer = await client.response();
      const elapsed = performance.now() - started;
      client.write(`"${'x'.repeat(86)}"}`);
      client.socket.end();
      await client.whenClosed();
      await waitFor(async () => (await connectionsOf(gateway.server)) === 0, 10_000); // the gateway read the rest too

      // Assert
      console.log(`stalled body: 408 after ${elapsed.toFixed(0)} ms (request timeout ${REQUEST_TIMEOUT_MS} ms)`);
      expect(answer?.status).toBe(408);
      expect(answer?.headers).toMatchObject({ connection: 'close', 'content-type': 'application/json' });
      expect(json(answer)).toEqual({ message: 'Request Timeout' });
      expect(client.error).toBeUndefined();
      expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
      expect(elapsed).toBeLessThan(REQUEST_TIMEOUT_MS + MARGIN_MS);
      expect(calls).toEqual([]);
      expect(logs).toEqual([]);
    });

    it('lets a function run past the request timeout once its request arrived whole: only the integration timeout bounds it', async () => {
      // Arrange: a request received whole, its function held.
      const { gateway, calls, openGate } = await start();
      const slow = await RawConnection.open(gateway.url);
      slow.write(rawRequest('POST', '/auth/token', { 'x-gate': '1', 'x-seq': 'slow' }, '{}'));
      await waitFor(() => calls.includes('slow'));

      // Act: a request that stalls, begun after the slow one, gets its 408: the request timeout
      // has passed for the slow one as well. Only then does its function return.
      const probe = await RawConnection.open(gateway.url);
      probe.write(rawRequest('POST', '/auth/token', { 'content-length': '10', 'x-seq': 'probe' }));
      const timedOut = await probe.response();
      openGate();
      const answer = await slow.response();

      // Assert
      expect(timedOut?.status).toBe(408);
      expect(answer?.status).toBe(200);
      expect(answer?.body.toString()).toBe('got 2');
      expect(slow.error).toBeUndefined();
      expect(calls).toEqual(['slow']);
    });

    it('answers 401 at once to an upload without a token whose body never comes: the body is not waited for', async () => {
      // Arrange
      const { gateway } = await start();
      const client = await RawConnection.open(gateway.url);

      // Act
      client.write(rawRequest('POST', '/api/data/upload', { 'content-type': 'application/json', 'content-length': '1000000' }));
      const answer = await client.response();
      await client.whenClosed();

      // Assert: the 401 came before any timeout could have answered.
      expect(answer?.status).toBe(401);
      expect(answer?.headers.connection).toBe('close');
      expect(client.error).toBeUndefined();
    });
  });

  describe('with requests that do not parse', () => {
    const cases: [string, string, number][] = [
      ['a header past 16 KB', `GET /health HTTP/1.1\r\nHost: x\r\nX-Flood: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ['a flood of headers', `GET /health HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3_000 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`, 431],
      ['a chunk size that is not hex', 'POST /auth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 400],
      ['Content-Length beside chunked', 'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
      ['two Content-Lengths that differ', 'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef', 400],
      ['a negative Content-Length', 'POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400],
    ];

    it.each(cases)('answers %s with a 4xx in JSON and a clean close, never a 5xx or a reset', async (_, bytes, status) => {
      // Arrange
      const { gateway, calls } = await start();
      const client = await RawConnection.open(gateway.url);

      // Act
      client.write(bytes);
      const answer = await client.response();
      await client.whenClosed();

      // Assert
      expect(answer?.status).toBe(status);
      expect(answer?.headers.connection).toBe('close');
      expect(json(answer)).toMatchObject({ message: expect.any(String) });
      expect(client.error).toBeUndefined();
      expect(calls).toEqual([]);
    });

    it('answers pipelined requests each in turn on one connection', async () => {
      // Arrange
      const { gateway } = await start();
      const client = await RawConnection.open(gateway.url);

      // Act
      client.write(rawRequest('GET', '/health') + rawRequest('POST', '/auth/token', {}, '{"a":1}') + rawRequest('GET', '/health'));
      const answers = [await client.response(), await client.response(), await client.response()];
      client.close();

      // Assert
      expect(answers.map((a) => a?.status)).toEqual([200, 200, 200]);
      expect(answers[1]?.body.toString()).toBe('got 7');
    });
  });

  describe('at a stop', () => {
    it('gives a request in flight its whole answer with connection: close, never a reset', async () => {
      // Arrange: a 4 MB answer, more than the socket buffers hold, so it is still going out
      // when its function has returned.
      const { gateway, calls, openGate } = await start();
      const client = await RawConnection.open(gateway.url);
      client.write(rawRequest('POST', '/auth/token', { 'x-gate': '1', 'x-seq': 'in-flight', 'x-answer-bytes': String(4 * 1024 * 1024) }, '{}'));
      await waitFor(() => calls.includes('in-flight'));

      // Act
      const stopped = gateway.stop();
      openGate();
      const answer = await client.response();
      await client.whenClosed();
      await stopped;

      // Assert
      expect(answer?.status).toBe(200);
      expect(answer?.headers.connection).toBe('close');
      expect(answer?.body.length).toBe(4 * 1024 * 1024);
      expect(client.error).toBeUndefined();
      expect(client.pending).toBe(0);
    });

    it('answers 503 with connection: close to a request on a kept-alive connection after the stop began, never a reset, and refuses new connections', async () => {
      // Arrange: one kept-alive connection idle, one request in flight that keeps the stop draining.
      const { gateway, calls, openGate } = await start();
      const idle = await RawConnection.open(gateway.url);
      idle.write(rawRequest('GET', '/health'));
      expect((await idle.response())?.headers.connection).not.toBe('close');
      const busy = await RawConnection.open(gateway.url);
      busy.write(rawRequest('POST', '/auth/token', { 'x-gate': '1', 'x-seq': 'busy' }, '{}'));
      await waitFor(() => calls.includes('busy'));

      // Act
      const stopped = gateway.stop();
      idle.write(rawRequest('POST', '/auth/token', { 'x-seq': 'late' }, '{}'));
      const late = await idle.response();
      await idle.whenClosed();
      const refused = await RawConnection.open(gateway.url).then(
        (c) => (c.close(), 'connected'),
        (e: NodeJS.ErrnoException) => e.code,
      );
      openGate();
      const inFlight = await busy.response();
      await stopped;

      // Assert
      expect(late?.status).toBe(503);
      expect(late?.headers).toMatchObject({ connection: 'close', 'retry-after': '1' });
      expect(json(late)).toEqual({ message: 'Service Unavailable' });
      expect(idle.error).toBeUndefined();
      expect(refused).toBe('ECONNREFUSED');
      expect(inFlight?.status).toBe(200);
      expect(inFlight?.headers.connection).toBe('close');
      expect(busy.error).toBeUndefined();
      expect(calls).toEqual(['busy']);
    });

    it('ends at its drain deadline while a function still runs, and says so', async () => {
      // Arrange
      const { gateway, calls } = await start({ drainTimeoutMs: 200 });
      const client = await RawConnection.open(gateway.url);
      client.write(rawRequest('POST', '/auth/token', { 'x-gate': '1', 'x-seq': 'stuck' }, '{}'));
      await waitFor(() => calls.includes('stuck'));

      // Act: the gate stays shut until afterEach.
      await gateway.stop();
      await client.whenClosed();

      // Assert
      expect(logs).toEqual(['http gateway: 1 request(s) still running after 200 ms; closing their connections']);
      expect(await connectionsOf(gateway.server)).toBe(0);
    });

    it('answers, whole, every request it read from 8 kept-alive clients that loop through a stop, and resets none', async () => {
      // Arrange: which requests the gateway read on a connection it had not ended yet.
      const { gateway } = await start();
      const readOpen = new Set<string>();
      gateway.server.prependListener('request', (req) => {
        if (!req.socket.writableEnded && !req.socket.destroyed) readOpen.add(String(req.headers['x-seq']));
      });
      const outcomes = new Map<string, string>();
      const lastOfConnection: string[] = [];
      const loop = async (client: number) => {
        let connection: RawConnection | undefined = await RawConnection.open(gateway.url);
        for (let i = 0; i < 20_000 && connection; i++) {
          const seq = `${client}-${i}`;
          // Half the clients' requests take a little while, so that the stop finds some in flight and some between requests.
          connection.write(rawRequest('POST', '/auth/token', { 'x-seq': seq, 'x-work-ms': String(client % 2) }, '{}'));
          const answer = await connection.response();
          const closing = !answer || answer.headers.connection === 'close';
          outcomes.set(seq, answer ? `${answer.status}${closing ? ' close' : ''}` : connection.error ? `error ${connection.error}` : connection.pending ? 'partial' : 'closed unanswered');
          if (!closing) continue;
          await connection.whenClosed();
          lastOfConnection.push(`${outcomes.get(seq)}${connection.error ? ` then error ${connection.error}` : ''}`);
          connection = await RawConnection.open(gateway.url).catch(() => undefined); // refused once the stop began
        }
      };
      const clients = Array.from({ length: 8 }, (_, client) => loop(client));
      await waitFor(() => outcomes.size >= 8 * 20);

      // Act
      await gateway.stop();
      await Promise.all(clients);

      // Assert
      const counts: Record<string, number> = {};
      for (const outcome of outcomes.values()) counts[outcome] = (counts[outcome] ?? 0) + 1;
      console.log(`8 kept-alive clients looping through a stop: ${JSON.stringify(counts)}`);
      expect(Object.keys(counts).filter((o) => !['200', '200 close', '503 close', 'closed unanswered'].includes(o))).toEqual([]);
      expect([...readOpen].filter((seq) => !/^(200|503)/.test(outcomes.get(seq) ?? ''))).toEqual([]);
      expect(lastOfConnection.filter((o) => o.includes('error'))).toEqual([]);
      expect(lastOfConnection.length).toBe(8); // each client's connection ended once, at the stop
    });
  });

  it('reads its receive timeouts from HTTP_HEADERS_TIMEOUT_MS and HTTP_REQUEST_TIMEOUT_MS, and refuses headers timed longer than the request', () => {
    expect(localConfigFromEnv({})).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 10_000, HTTP_REQUEST_TIMEOUT_MS: 20_000 });
    expect(localConfigFromEnv({ HTTP_HEADERS_TIMEOUT_MS: '500', HTTP_REQUEST_TIMEOUT_MS: '900' })).toMatchObject({ HTTP_HEADERS_TIMEOUT_MS: 500, HTTP_REQUEST_TIMEOUT_MS: 900 });
    expect(() => localConfigFromEnv({ HTTP_HEADERS_TIMEOUT_MS: '30000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});
