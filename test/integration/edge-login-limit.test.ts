/**
 * The failed-login limit of POST /auth/token, over the real handler, the local identity (the
 * issuer the local stack logs in with) and both counter stores: the DynamoDB table on dynalite,
 * and the in-memory fallback. A brute-force loop is refused after the limit, a right password
 * too while locked, and let through once the window has closed; nothing in the answers tells
 * whether the user exists. A table that cannot be used yet (still being created) refuses every
 * login with a 500 and counts nothing: the limit fails closed.
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CognitoTokenIssuer } from '../../lambdas/adapters/cognito-token-issuer';
import { DynamoLoginAttempts } from '../../lambdas/adapters/dynamo-login-attempts';
import { MemoryLoginAttempts } from '../../lambdas/adapters/memory-login-attempts';
import { LOGIN_ATTEMPTS_TABLE, type LoginAttemptStore } from '../../lambdas/core/login-limit';
import type { TokenIssuer } from '../../lambdas/core/ports';
import { makeAuthTokenHandler } from '../../lambdas/handlers/auth-token';
import { LOCAL_AWS_CREDENTIALS } from '../../local/bindings';
import { LocalIdentity } from '../../local/identity';
import { localDocumentClient, localDynamoClient, waitForActiveTable } from '../../local/services';
import { httpEvent, lambdaContext } from '../fixtures/events';
import { documentClient, freshLoginAttemptsTable } from '../support/services';

const LIMITS = { user: { maxFailures: 5, windowSeconds: 900 }, address: { maxFailures: 20, windowSeconds: 900 } };
const T0 = Date.parse('2024-05-01T00:00:00Z');

let identity: LocalIdentity;
const doc = documentClient();
beforeAll(async () => {
  identity = await LocalIdentity.create({ issuer: 'http://127.0.0.1:1', audience: 'local', users: [{ username: 'parsa', password: 'admin', admin: true }] });
});
afterAll(() => doc.destroy());

const stores: Array<[string, () => Promise<LoginAttemptStore>]> = [
  ['a DynamoDB table', async () => new DynamoLoginAttempts(doc, await freshLoginAttemptsTable())],
  ['memory', async () => new MemoryLoginAttempts()],
];

type Login = (username: string, password: string, sourceIp?: string) => Promise<{ status: number; retryAfter?: string; body: unknown }>;

/** POST /auth/token over `store`, at the time `now()` says. */
const loginOver = (store: LoginAttemptStore, now: () => number, issuer: TokenIssuer = identity): Login => {
  const handler = makeAuthTokenHandler({ issuer, attempts: store, limits: LIMITS, now });
  return async (username, password, sourceIp = '203.0.113.7') => {
    const event = httpEvent({ path: '/auth/token', body: { username, password }, claims: null });
    event.requestContext.http.sourceIp = sourceIp;
    const response = await handler(event, lambdaContext());
    return { status: response.statusCode!, retryAfter: response.headers?.['retry-after'] as string | undefined, body: JSON.parse(response.body!) };
  };
};

describe.each(stores)('the failed-login limit, counted in %s', (_, makeStore) => {
  let clock: number;
  let login: Login;

  const handlerOver = (store: LoginAttemptStore, issuer: TokenIssuer = identity) => loginOver(store, () => clock, issuer);

  beforeAll(() => {
    clock = T0;
  });

  it('refuses a brute-force loop after 5 failures, a right password too, until the window closes', async () => {
    // Arrange
    login = handlerOver(await makeStore());
    // Act
    const guesses = [];
    for (let i = 0; i < 30; i++) guesses.push(await login('parsa', `guess-${i}`));
    const rightWhileLocked = await login('parsa', 'admin');
    clock += 899_000;
    const rightAtTheEnd = await login('parsa', 'admin');
    clock += 1_000;
    const rightAfter = await login('parsa', 'admin');
    // Assert
    expect(guesses.map((g) => g.status)).toEqual([...Array(5).fill(401), ...Array(25).fill(429)]);
    expect(guesses[5]).toEqual({ status: 429, retryAfter: '900', body: { error: { code: 'too_many_attempts', message: 'Too many failed logins; try again in 900 s.' } } });
    expect(rightWhileLocked.status).toBe(429);
    expect(rightAtTheEnd).toMatchObject({ status: 429, retryAfter: '1' });
    expect(rightAfter.status).toBe(200);
  });

  it('answers an unknown user exactly as it answers a known one, wrong password and lockout alike', async () => {
    // Arrange
    login = handlerOver(await makeStore());
    // Act
    const known = [];
    const unknown = [];
    for (let i = 0; i < 7; i++) {
      known.push(await login('parsa', `guess-${i}`, '198.51.100.1'));
      unknown.push(await login('nobody', `guess-${i}`, '198.51.100.2'));
    }
    // Assert
    expect(unknown).toEqual(known);
    expect(known.map((r) => r.status)).toEqual([401, 401, 401, 401, 401, 429, 429]);
  });

  it('counts a username in any case and Unicode spelling as one', async () => {
    login = handlerOver(await makeStore());
    for (const name of ['parsa', 'PARSA', ' Parsa', 'ｐａｒｓａ', 'parsA']) await login(name, 'wrong');
    expect((await login('parsa', 'admin')).status).toBe(429);
  });

  it('refuses an address after 20 failures over many usernames, and only that address', async () => {
    // Arrange
    login = handlerOver(await makeStore());
    // Act
    const sprayed = [];
    for (let i = 0; i < 25; i++) sprayed.push((await login(`user-${i}`, 'password1', '192.0.2.9')).status);
    const rightFromThere = await login('parsa', 'admin', '192.0.2.9');
    const rightFromElsewhere = await login('parsa', 'admin', '192.0.2.10');
    // Assert
    expect(sprayed).toEqual([...Array(20).fill(401), ...Array(5).fill(429)]);
    expect(rightFromThere.status).toBe(429);
    expect(rightFromElsewhere.status).toBe(200);
  });

  it('counts an IPv6 client by its /64', async () => {
    login = handlerOver(await makeStore());
    for (let i = 0; i < 20; i++) await login(`user-${i}`, 'x', `2001:db8:1:2::${i.toString(16)}`);
    expect((await login('parsa', 'admin', '2001:db8:1:2:ffff::1')).status).toBe(429);
    expect((await login('parsa', 'admin', '2001:db8:1:3::1')).status).toBe(200);
  });

  it('starts a user afresh after a right password', async () => {
    login = handlerOver(await makeStore());
    const statuses = [];
    for (const password of ['a', 'b', 'c', 'd', 'admin', 'e', 'f', 'g', 'h']) statuses.push((await login('parsa', password, '198.51.100.3')).status);
    expect(statuses).toEqual([401, 401, 401, 401, 200, 401, 401, 401, 401]);
  });

  it('lets through at most the limit of a burst of 30 guesses sent at once', async () => {
    login = handlerOver(await makeStore());
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => login('parsa', `burst-${i}`, `198.51.100.${100 + i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5);
    expect(statuses.filter((s) => s !== 401).every((s) => s === 429)).toBe(true);
  });

  it('does not count an attempt whose check could not run (the identity provider unreachable)', async () => {
    // Arrange: Cognito's client pointed at a port where nothing listens
    const store = await makeStore();
    const cognito = new CognitoIdentityProviderClient({ endpoint: 'http://127.0.0.1:1', region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, maxAttempts: 1 });
    const unreachable = handlerOver(store, new CognitoTokenIssuer(cognito, 'local'));
    // Act
    const failures = [];
    for (let i = 0; i < 8; i++) failures.push((await unreachable('parsa', 'admin', '198.51.100.4')).status);
    login = handlerOver(store);
    const afterwards = await login('parsa', 'admin', '198.51.100.4');
    // Assert
    expect(failures).toEqual(Array(8).fill(500));
    expect(afterwards.status).toBe(200);
    cognito.destroy();
  });
});

describe('the failed-login limit on a DynamoDB table still being created', () => {
  // A dynalite of its own whose tables stay CREATING for a while after CreateTable has answered,
  // as on AWS; the shared one turns them ACTIVE a moment later, which made this a 1-in-8 flake.
  const server = dynalite({ createTableMs: 1_000 });
  let endpoint: string;
  beforeAll(async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  });

  it('refuses a login with a 500 and counts nothing until the table is ACTIVE, a right password included', async () => {
    // Arrange: CreateTable has answered; the table is not ACTIVE yet.
    const tableName = 'login-attempts-creating';
    const ddb = localDocumentClient(endpoint);
    const control = localDynamoClient(endpoint);
    await control.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: LOGIN_ATTEMPTS_TABLE.partitionKey, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: LOGIN_ATTEMPTS_TABLE.partitionKey, KeyType: 'HASH' }],
      }),
    );
    const login = loginOver(new DynamoLoginAttempts(ddb, tableName), () => T0);
    try {
      // Act
      const whileCreating = await login('parsa', 'admin');
      const statusWhileCreating = (await control.send(new DescribeTableCommand({ TableName: tableName }))).Table?.TableStatus;
      await waitForActiveTable(endpoint, tableName);
      const afterwards = [];
      for (let i = 0; i < 6; i++) afterwards.push((await login('parsa', `guess-${i}`)).status);

      // Assert: not let through uncounted while the table could not be used, and nothing was counted then.
      expect(statusWhileCreating).toBe('CREATING');
      expect(whileCreating.status).toBe(500);
      expect(afterwards).toEqual([401, 401, 401, 401, 401, 429]);
    } finally {
      ddb.destroy();
      control.destroy();
    }
  });
});
