/**
 * How a function reaches PostgreSQL: a DATABASE_URL (locally), or on AWS the RDS Proxy
 * endpoint plus the Secrets Manager secret that holds the credentials of the function's role.
 * The credentials are read from the secret for each new connection (cached for a few minutes),
 * so a rotation is picked up without a redeploy.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { APP_ROLES, type AppRole, type LoginRole } from '../adapters/pg-roles';
import { DatabaseEnv, readEnv, type MigrateEnv } from './env';

export { DatabaseEnv };

interface SecretCredentials {
  readonly username: string;
  readonly password: string;
}

/** Reads a credentials secret; `forget()` makes the next read ask Secrets Manager again. */
export interface SecretReader {
  (): Promise<SecretCredentials>;
  forget(): void;
}

const SECRET_TTL_MS = 5 * 60_000;

/** The server refused the user name or password (invalid_password, invalid_authorization_specification). */
const REFUSED_LOGIN = new Set(['28P01', '28000']);

/** Reads an RDS credentials secret, keeping it for a few minutes. */
export function secretReader(secretArn: string, client = new SecretsManagerClient({})): SecretReader {
  let cached: { value: SecretCredentials; at: number } | undefined;
  const read = async () => {
    if (cached && Date.now() - cached.at < SECRET_TTL_MS) return cached.value;
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const parsed = JSON.parse(out.SecretString ?? '{}') as Partial<SecretCredentials>;
    if (!parsed.username || !parsed.password) throw new Error('the database secret has no username or password');
    cached = { value: { username: parsed.username, password: parsed.password }, at: Date.now() };
    return cached.value;
  };
  return Object.assign(read, { forget: () => (cached = undefined) });
}

/**
 * A client class that logs in as the user the secret names now, with that user's password.
 * The roles' secrets rotate between two users (`data_handler_writer` and its `_clone`), and RDS
 * Proxy admits only the pair a secret holds now: a user name fixed at cold start would be
 * refused after the next rotation. A refused login forgets the cached secret, so the next
 * connection reads the rotated one instead of waiting out the cache.
 */
export function secretFollowingClient(credentials: SecretReader): typeof pg.Client {
  return class SecretFollowingClient extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error | null, client?: pg.Client) => void): void;
    override connect(callback?: (err: Error | null, client?: pg.Client) => void): Promise<pg.Client> | void {
      const connected = credentials()
        .then(({ username, password }) => {
          const self = this as unknown as { user: string; password: string; connectionParameters: { user: string; password: string } };
          self.user = self.connectionParameters.user = username;
          self.password = self.connectionParameters.password = password;
          return super.connect();
        })
        .catch((error: unknown) => {
          if (REFUSED_LOGIN.has((error as { code?: string }).code ?? '')) credentials.forget();
          throw error;
        });
      if (!callback) return connected;
      connected.then((client) => callback(null, client), callback);
    }
  };
}

/** The database variables; fails with the variables to set when neither way to connect is given. */
export function databaseEnv(source: NodeJS.ProcessEnv = process.env): DatabaseEnv {
  const env = readEnv(DatabaseEnv, source);
  if (!env.DATABASE_URL && (!env.DATABASE_HOST || !env.DATABASE_SECRET_ARN)) {
    throw new Error('Invalid configuration: set DATABASE_URL, or DATABASE_HOST with DATABASE_SECRET_ARN');
  }
  return env;
}

/** Connection settings from the environment; fails with the variables to set. */
export async function databaseConfig(source: NodeJS.ProcessEnv = process.env): Promise<{ config: pg.ClientConfig; ssl: DatabaseEnv['DATABASE_SSL'] }> {
  const env = databaseEnv(source);
  if (env.DATABASE_URL) return { config: { connectionString: env.DATABASE_URL }, ssl: env.DATABASE_SSL };
  const credentials = secretReader(env.DATABASE_SECRET_ARN!);
  const { username } = await credentials();
  // `user` and `password` serve a single client (the migrations'); a pool built from this
  // config (createPool passes `Client` on to pg.Pool) takes both from the secret at each connect.
  const config: pg.ClientConfig & { Client: typeof pg.Client } = {
    host: env.DATABASE_HOST,
    port: env.DATABASE_PORT,
    database: env.DATABASE_NAME,
    user: username,
    password: async () => (await credentials()).password,
    Client: secretFollowingClient(credentials),
  };
  return { config, ssl: env.DATABASE_SSL };
}

/** The application's roles that the migrate function creates when missing, and how much that matters. */
export interface AppRoleSources {
  readonly roles: readonly LoginRole[];
  /**
   * On AWS the functions cannot connect without the roles, so a failure to create them fails
   * the migration. Locally the stack falls back to the owner's URL (an own DATABASE_URL whose
   * user may not create roles), so it is only reported.
   */
  readonly required: boolean;
}

const PAIRS = [
  ['DATABASE_WRITER_SECRET_ARN', 'DATABASE_READER_SECRET_ARN'],
  ['DATABASE_WRITER_PASSWORD', 'DATABASE_READER_PASSWORD'],
] as const;

/**
 * Where the migrate function finds the roles' passwords: the roles' secrets (AWS), or the
 * variables the local stack sets. Undefined when neither is set (the roles are not its job).
 */
export function appRoleSources(env: MigrateEnv, client = new SecretsManagerClient({})): AppRoleSources | undefined {
  for (const [a, b] of PAIRS) {
    if (Boolean(env[a]) !== Boolean(env[b])) throw new Error(`Invalid configuration: set both ${a} and ${b}, or neither`);
  }
  const roles = (password: (role: AppRole) => () => Promise<string>): LoginRole[] =>
    (Object.keys(APP_ROLES) as AppRole[]).map((role) => ({ name: APP_ROLES[role], password: password(role) }));
  if (env.DATABASE_WRITER_SECRET_ARN && env.DATABASE_READER_SECRET_ARN) {
    const arns = { writer: env.DATABASE_WRITER_SECRET_ARN, reader: env.DATABASE_READER_SECRET_ARN };
    return { required: true, roles: roles((role) => async () => (await secretReader(arns[role], client)()).password) };
  }
  if (env.DATABASE_WRITER_PASSWORD && env.DATABASE_READER_PASSWORD) {
    const passwords = { writer: env.DATABASE_WRITER_PASSWORD, reader: env.DATABASE_READER_PASSWORD };
    return { required: false, roles: roles((role) => async () => passwords[role]) };
  }
  return undefined;
}
