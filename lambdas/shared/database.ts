/**
 * How a function reaches PostgreSQL: a DATABASE_URL (locally), or on AWS the RDS Proxy
 * endpoint plus the Secrets Manager secret that holds the credentials. The password is read
 * from the secret for each new connection (cached for a few minutes), so a rotation is picked
 * up without a redeploy.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ClientConfig } from 'pg';
import { DatabaseEnv, readEnv } from './env';

export { DatabaseEnv };

interface SecretCredentials {
  readonly username: string;
  readonly password: string;
}

const SECRET_TTL_MS = 5 * 60_000;

/** Reads an RDS credentials secret, keeping it for a few minutes. */
export function secretReader(secretArn: string, client = new SecretsManagerClient({})): () => Promise<SecretCredentials> {
  let cached: { value: SecretCredentials; at: number } | undefined;
  return async () => {
    if (cached && Date.now() - cached.at < SECRET_TTL_MS) return cached.value;
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const parsed = JSON.parse(out.SecretString ?? '{}') as Partial<SecretCredentials>;
    if (!parsed.username || !parsed.password) throw new Error('the database secret has no username or password');
    cached = { value: { username: parsed.username, password: parsed.password }, at: Date.now() };
    return cached.value;
  };
}

/** Connection settings from the environment; fails with the variables to set. */
export async function databaseConfig(source: NodeJS.ProcessEnv = process.env): Promise<{ config: ClientConfig; ssl: DatabaseEnv['DATABASE_SSL'] }> {
  const env = readEnv(DatabaseEnv, source);
  if (env.DATABASE_URL) return { config: { connectionString: env.DATABASE_URL }, ssl: env.DATABASE_SSL };
  if (!env.DATABASE_HOST || !env.DATABASE_SECRET_ARN) {
    throw new Error('Invalid configuration: set DATABASE_URL, or DATABASE_HOST with DATABASE_SECRET_ARN');
  }
  const credentials = secretReader(env.DATABASE_SECRET_ARN);
  const { username } = await credentials();
  return {
    config: {
      host: env.DATABASE_HOST,
      port: env.DATABASE_PORT,
      database: env.DATABASE_NAME,
      user: username,
      password: async () => (await credentials()).password,
    },
    ssl: env.DATABASE_SSL,
  };
}
