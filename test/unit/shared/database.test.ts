/**
 * Secrets Manager has no local stand-in among our embedded services, so the secret path runs
 * against a stubbed client here; the URL path is what every other test uses for real.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it, vi } from 'vitest';
import { appRoleSources, databaseConfig, secretReader } from '../../../lambdas/shared/database';

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

  it("makes the roles required with their secrets (AWS), optional with passwords (the local stack), and refuses half of a pair", async () => {
    const send = vi.fn().mockResolvedValue({ SecretString: JSON.stringify({ username: 'data_handler_writer', password: 'from-secret' }) });
    const client = { send } as unknown as SecretsManagerClient;

    const aws = appRoleSources({ DATABASE_WRITER_SECRET_ARN: 'arn:w', DATABASE_READER_SECRET_ARN: 'arn:r' } as never, client)!;
    const local = appRoleSources({ DATABASE_WRITER_PASSWORD: 'pw-w', DATABASE_READER_PASSWORD: 'pw-r' } as never, client)!;

    expect(aws.required).toBe(true);
    expect(send).not.toHaveBeenCalled(); // a secret is read only when its role must be created
    expect(await aws.roles[0]!.password()).toBe('from-secret');
    expect(local.required).toBe(false);
    expect(await Promise.all(local.roles.map(async (r) => [r.name, await r.password()]))).toEqual([['data_handler_writer', 'pw-w'], ['data_handler_reader', 'pw-r']]);
    expect(appRoleSources({} as never, client)).toBeUndefined();
    expect(() => appRoleSources({ DATABASE_WRITER_PASSWORD: 'pw-w' } as never, client)).toThrow(/set both DATABASE_WRITER_PASSWORD and DATABASE_READER_PASSWORD/);
  });
});
