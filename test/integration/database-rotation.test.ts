/**
 * A function's pool follows a rotation of its role's secret within the same connect: a login
 * refused with the cached password reads the secret again and, when it changed, logs in once
 * more. Single-user rotation (the same user, a new password) is what the roles use; the switch
 * to a `_clone` user is what stacks rotated earlier with multi-user rotation may still hold.
 * Real PostgreSQL, the Secrets Manager emulation, and the very configuration a function builds
 * at cold start.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type pg from 'pg';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { databaseConfig } from '../../lambdas/shared/database';
import { LOCAL_AWS_CREDENTIALS, LOCAL_REGION } from '../../local/bindings';
import { createDatabase } from '../../local/services';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../support/aws-emulator-secrets-manager';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:data-handler-writer';
const newPassword = () => randomBytes(9).toString('hex');

describe('a pool built from a rotating secret', () => {
  const suffix = randomBytes(4).toString('hex');
  const users = { current: `rot_${suffix}`, clone: `rot_${suffix}_clone` };
  const secret = { username: users.current, password: newPassword() };
  let emulator: SecretsManagerEmulator;
  let database: URL;
  let admin: pg.Pool;
  let pool: pg.Pool;

  /** A pool as a function builds it at cold start (this reads the secret once). */
  async function coldStartPool(): Promise<pg.Pool> {
    const { config } = await databaseConfig({
      DATABASE_HOST: database.hostname,
      DATABASE_PORT: database.port,
      DATABASE_NAME: database.pathname.slice(1),
      DATABASE_SECRET_ARN: ARN,
    });
    return createPool({ connection: config, max: 1 });
  }

  /** `current_user` on a new connection of `from` (its one connection is ended after each use). */
  async function userOfNewConnection(from = pool): Promise<string> {
    const client = await from.connect();
    try {
      return (await client.query<{ user: string }>('SELECT current_user AS user')).rows[0]!.user;
    } finally {
      client.release(true);
    }
  }

  beforeAll(async () => {
    database = new URL(await createDatabase(inject('adminDatabaseUrl'), `rot_${suffix}`));
    admin = createPool({ connection: database.toString(), max: 1 });
    await admin.query(`CREATE ROLE ${users.current} LOGIN PASSWORD '${secret.password}'`);
    emulator = await startSecretsManagerEmulator([{ arn: ARN, name: 'data-handler-writer', value: secret }]);
    // What a function's environment holds on AWS (the SDK reads its part from process.env).
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
    });
    pool = await coldStartPool();
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.end();
    await emulator?.stop();
  });
  // Each case starts with the pool's secret cached and good for the role the secret names.
  beforeEach(async () => {
    expect(await userOfNewConnection()).toBe(secret.username);
  });

  it('logs in with the new password of a single-user rotation, on the next connection and without an error', async () => {
    const password = newPassword();
    await admin.query(`ALTER ROLE ${users.current} PASSWORD '${password}'`);
    secret.password = password;
    emulator.requests.length = 0;

    const after = await userOfNewConnection();

    expect(after).toBe(users.current);
    // The cached password was refused, so the secret was read once more.
    expect(emulator.requests).toEqual([ARN]);
  });

  it('logs in as the clone a multi-user rotation left in the secret, on the next connection and without an error', async () => {
    const password = newPassword();
    await admin.query(`CREATE ROLE ${users.clone} LOGIN PASSWORD '${password}'`);
    Object.assign(secret, { username: users.clone, password });
    await admin.query(`ALTER ROLE ${users.current} NOLOGIN`);

    const after = await userOfNewConnection();

    expect(after).toBe(users.clone);
  });

  it("fails with the database's refusal when the secret did not change, having read it only once more", async () => {
    emulator.requests.length = 0;
    const cold = await coldStartPool();
    await admin.query(`ALTER ROLE ${secret.username} PASSWORD '${newPassword()}'`);

    const refused = await userOfNewConnection(cold).catch((error: { code?: string }) => error.code);
    await cold.end();

    expect(refused).toBe('28P01');
    // Once at cold start, once after the refusal; no second login with the same secret.
    expect(emulator.requests).toEqual([ARN, ARN]);
  });
});
