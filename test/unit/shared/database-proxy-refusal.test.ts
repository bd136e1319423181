/**
 * RDS Proxy has no local equivalent, so its refusal of a role it holds no credentials for is
 * simulated here: pg's own connect is mocked to fail with the error the proxy sends (SQLSTATE
 * 28000 and its message), then to succeed. What real PostgreSQL answers is proven in
 * test/integration/database-rotation.test.ts.
 */
import pg from 'pg';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { secretFollowingClient, type SecretReader } from '../../../lambdas/shared/database';

type Credentials = { username: string; password: string };
type ConnectCallback = (err: Error | null, client?: pg.Client) => void;

function proxyRefusal(role: string, code: string | undefined = '28000'): Error {
  const error = new Error(`This RDS proxy has no credentials for the role ${role}. Check the credentials for this role and try again.`);
  return Object.assign(error, { code, severity: 'FATAL' });
}

/** A SecretReader that hands out `versions` in turn, each read after a `forget()`. */
function readerOf(...versions: Credentials[]): SecretReader & { reads: number } {
  let index = 0;
  let cached: Credentials | undefined;
  const reader = Object.assign(
    async () => {
      if (!cached) {
        reader.reads += 1;
        cached = versions[Math.min(index++, versions.length - 1)];
      }
      return cached!;
    },
    { reads: 0, forget: () => (cached = undefined) },
  );
  return reader;
}

/** Mocks pg's connect: each call answers with the next of `outcomes` (an error, or success). */
function pgConnectAnswers(...outcomes: (Error | undefined)[]) {
  const users: string[] = [];
  const spy = vi.spyOn(pg.Client.prototype, 'connect').mockImplementation(function (this: pg.Client, callback?: ConnectCallback) {
    users.push(this.user!);
    const outcome = outcomes.shift();
    process.nextTick(() => (outcome ? callback!(outcome) : callback!(null, this)));
  } as never);
  return { spy, users };
}

describe('a secret-following client refused by RDS Proxy', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads the secret again and logs in as the user it names now, within the same connect', async () => {
    const credentials = readerOf({ username: 'app_clone', password: 'old' }, { username: 'app', password: 'new' });
    const { users } = pgConnectAnswers(proxyRefusal('app_clone'), undefined);
    const client = new (secretFollowingClient(credentials))({ host: '127.0.0.1', connectionTimeoutMillis: 5_000 });

    const connected = await client.connect();

    expect(connected).toBe(client);
    expect(users).toEqual(['app_clone', 'app']);
    expect(credentials.reads).toBe(2);
  });

  it("retries on the proxy's message whatever code it comes with", async () => {
    const credentials = readerOf({ username: 'app', password: 'old' }, { username: 'app', password: 'new' });
    const { users } = pgConnectAnswers(proxyRefusal('app', undefined), undefined);
    const client = new (secretFollowingClient(credentials))({ host: '127.0.0.1' });

    await client.connect();

    expect(users).toEqual(['app', 'app']);
    expect((client as unknown as { password: string }).password).toBe('new');
  });

  it("throws the proxy's refusal without a second login when the secret did not change", async () => {
    const same = { username: 'app', password: 'pw' };
    const credentials = readerOf(same, same);
    const refusal = proxyRefusal('app');
    const { users } = pgConnectAnswers(refusal);
    const client = new (secretFollowingClient(credentials))({ host: '127.0.0.1' });

    await expect(client.connect()).rejects.toBe(refusal);

    expect(users).toEqual(['app']);
    expect(credentials.reads).toBe(2);
  });

  it('retries only once: a second refusal is thrown as it came', async () => {
    const credentials = readerOf({ username: 'app', password: 'a' }, { username: 'app', password: 'b' }, { username: 'app', password: 'c' });
    const second = proxyRefusal('app');
    const { users } = pgConnectAnswers(proxyRefusal('app'), second);
    const client = new (secretFollowingClient(credentials))({ host: '127.0.0.1' });

    await expect(client.connect()).rejects.toBe(second);

    expect(users).toEqual(['app', 'app']);
    expect(credentials.reads).toBe(2);
  });

  it('does not retry an error that is not a refused login', async () => {
    const credentials = readerOf({ username: 'app', password: 'a' }, { username: 'app', password: 'b' });
    const unreachable = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const { users } = pgConnectAnswers(unreachable);
    const client = new (secretFollowingClient(credentials))({ host: '127.0.0.1' });

    await expect(client.connect()).rejects.toBe(unreachable);

    expect(users).toEqual(['app']);
    expect(credentials.reads).toBe(1);
  });
});
