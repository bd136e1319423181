/**
 * The embedded PostgreSQL on a port it picks itself: a port found free can be taken before the
 * server binds it (initdb runs in between), and then the start picks another rather than fail.
 * A real server; the port is taken by a listener of this test's own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startPostgres, type RunningPostgres } from '../../local/services';

describe('the embedded PostgreSQL on a port of its choosing', () => {
  let dir: string | undefined;
  let server: RunningPostgres | undefined;
  const taken = createServer();
  afterAll(async () => {
    await server?.stop();
    await new Promise((resolve) => taken.close(resolve));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts on another free port when the one it found is taken before it binds', async () => {
    // Arrange: the first port handed out is taken by the time the server binds it.
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
    const takenPort = (taken.address() as AddressInfo).port;
    const handedOut: number[] = [];
    const pickPort = async () => {
      const port = handedOut.length === 0 ? takenPort : await freePort();
      handedOut.push(port);
      return port;
    };
    dir = await mkdtemp(path.join(tmpdir(), 'dh-pg-port-'));

    // Act
    server = await startPostgres({ dataDir: path.join(dir, 'pg'), port: 0, pickPort });

    // Assert
    expect(handedOut).toHaveLength(2);
    const client = new pg.Client({ connectionString: server.info.databaseUrl });
    await client.connect();
    try {
      expect(Number((await client.query<{ port: string }>('SHOW port')).rows[0]!.port)).toBe(handedOut[1]);
    } finally {
      await client.end();
    }
  });
});
