/**
 * A function's pool follows multi-user rotation: the roles' secrets swap between a user and its
 * `_clone`, and RDS Proxy admits only the pair a secret holds now. Real PostgreSQL, the
 * Secrets Manager emulation, and the very configuration a function builds at cold start.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type pg from 'pg';
import { createPool } from '../../lambdas/adapters/pg-record-store';
import { databaseConfig } from '../../lambdas/shared/database';
import { LOCAL_AWS_CREDENTIALS, LOCAL_REGION } from '../../local/bindings';
import { createDatabase } from '../../local/services';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from '../support/aws-emulator-secrets-manager';

const ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:data-handler-writer';

describe('a pool built from a rotating secret', () => {
  const suffix = randomBytes(4).toString('hex');
  const users = { current: `rot_${suffix}`, clone: `rot_${suffix}_clone` };
  const passwords = { current: randomBytes(9).toString('hex'), clone: randomBytes(9).toString('hex') };
  const secret = { username: users.current, password: passwords.current };
  let emulator: SecretsManagerEmulator;
  let admin: pg.Pool;
  let pool: pg.Pool;

  beforeAll(async () => {
    const database = new URL(await createDatabase(inject('adminDatabaseUrl'), `rot_${suffix}`));
    admin = createPool({ connection: database.toString(), max: 1 });
    for (const user of ['current', 'clone'] as const) await admin.query(`CREATE ROLE ${users[user]} LOGIN PASSWORD '${passwords[user]}'`);
    emulator = await startSecretsManagerEmulator([{ arn: ARN, name: 'data-handler-writer', value: secret }]);
    // What a function's environment holds on AWS (the SDK reads its part from process.env).
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
    });
    const { config } = await databaseConfig({
      DATABASE_HOST: database.hostname,
      DATABASE_PORT: database.port,
      DATABASE_NAME: database.pathname.slice(1),
      DATABASE_SECRET_ARN: ARN,
    });
    pool = createPool({ connection: config, max: 1 });
  });
  afterAll(async () => {
    await pool?.end();
    await admin?.end();
    await emulator?.stop();
  });

  /** `current_user` on a new connection (the pool's one connection is ended after each use). */
  async function userOfNewConnection(): Promise<string> {
    const client = await pool.connect();
    try {
      return (await client.query<{ user: string }>('SELECT current_user AS user')).rows[0]!.user;
    } finally {
      client.release(true);
    }
  }

  it('logs in as the user the secret names, and after a rotation as the new one, without a cold start', async () => {
    const before = await userOfNewConnection();
    // The rotation: the secret now holds the clone, and the old pair is refused (as by the proxy).
    Object.assign(secret, { username: users.clone, password: passwords.clone });
    await admin.query(`ALTER ROLE ${users.current} NOLOGIN`);

    const refused = await userOfNewConnection().catch((error: { code?: string }) => error.code);
    const after = await userOfNewConnection();

    expect(before).toBe(users.current);
    // Within the secret's cache the old pair is tried once; its refusal forgets the cache.
    expect(refused).toBe('28000');
    expect(after).toBe(users.clone);
  });
});
