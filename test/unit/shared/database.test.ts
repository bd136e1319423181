/**
 * Secrets Manager has no local stand-in among our embedded services, so the secret path runs
 * against a stubbed client here; the URL path is what every other test uses for real.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it, vi } from 'vitest';
import { databaseConfig, secretReader } from '../../../lambdas/shared/database';

describe('database settings', () => {
  it('uses DATABASE_URL when it is set', async () => {
    expect(await databaseConfig({ DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db' })).toEqual({
      config: { connectionString: 'postgres://u:p@127.0.0.1:5432/db' },
      ssl: 'disable',
    });
  });

  it('says which variables to set when there is neither a URL nor a host and secret', async () => {
    await expect(databaseConfig({})).rejects.toThrow(/DATABASE_URL, or DATABASE_HOST with DATABASE_SECRET_ARN/);
  });

  it('reads the credentials secret once for a while, not for every connection', async () => {
    const send = vi.fn().mockResolvedValue({ SecretString: JSON.stringify({ username: 'app', password: 'pw-1' }) });
    const read = secretReader('arn:secret', { send } as unknown as SecretsManagerClient);
    expect(await read()).toEqual({ username: 'app', password: 'pw-1' });
    expect(await read()).toEqual({ username: 'app', password: 'pw-1' });
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('refuses a secret without a username or password', async () => {
    const send = vi.fn().mockResolvedValue({ SecretString: '{"username":"app"}' });
    await expect(secretReader('arn:secret', { send } as unknown as SecretsManagerClient)()).rejects.toThrow(/no username or password/);
  });
});
