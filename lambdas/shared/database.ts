/**
 * How a function reaches PostgreSQL: a DATABASE_URL (locally), or on AWS the RDS Proxy
 * endpoint plus the Secrets Manager secret that holds the credentials of the function's role.
 * The credentials are read from the secret for each new connection (cached for a few minutes),
 * and read again when a login is refused, so a rotation is picked up without a redeploy.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import pg from 'pg';
import { sslOptions } from '../adapters/pg-record-store';
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
/** RDS Proxy's refusal of a user it holds no credentials for, matched whatever code it comes with. */
const PROXY_UNKNOWN_ROLE = /has no credentials for the role/i;

function isRefusedLogin(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return REFUSED_LOGIN.has(String(code)) || PROXY_UNKNOWN_ROLE.test(String(message));
}

const sameCredentials = (a: SecretCredentials, b: SecretCredentials) => a.username === b.username && a.password === b.password;

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
 * The parts of pg 8's Client that a second connect on the same client has to reset: pg offers
 * no public way, and the pool holds this very client, so the retry cannot use another one.
 */
interface ClientInternals {
  user: string;
  password: string;
  connectionParameters: { user: string; password: string };
  connection: pg.Connection & { stream: { destroy(): void } };
  _connecting: boolean;
  _connectionError: boolean;
  _ended: boolean;
  _connectionTimeoutMillis: number;
}

/**
 * A client class that logs in with the user and password the secret holds now.
 *
 * The roles' secrets rotate single-user: the rotation sets a new password on the role itself,
 * so the user name never changes, and RDS Proxy, which knows only the user name in the secret's
 * current version (aws-cdk#25568), always has credentials for it. What goes stale is the
 * password this process cached. So a refused login (28P01, 28000, or RDS Proxy's "has no
 * credentials for the role" whatever its code) forgets the cache, reads the secret again and,
 * when it changed, logs in once more within the same connect. That covers a rotation finished
 * while the cache still held the replaced password, and stacks whose secrets still name a
 * `_clone` user from the earlier multi-user rotation. An unchanged secret, or a second refusal,
 * fails with the database's own error.
 *
 * A pg Client connects once, and the pool holds this client, so a refused attempt at once
 * drops its connection (before that connection's end reaches this client) and takes the unused
 * connection of a new Client built from the same config, as if this client were new. The retry
 * gets only what is left of the connect's deadline (connectionTimeoutMillis).
 */
export function secretFollowingClient(credentials: SecretReader): typeof pg.Client {
  return class SecretFollowingClient extends pg.Client {
    readonly #config: string | pg.ClientConfig | undefined;

    constructor(config?: string | pg.ClientConfig) {
      super(config);
      this.#config = config;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error | null, client?: pg.Client) => void): void;
    override connect(callback?: (err: Error | null, client?: pg.Client) => void): Promise<pg.Client> | void {
      const connected = this.#connectFollowingSecret();
      if (!callback) return connected;
      connected.then((client) => callback(null, client), callback);
    }

    async #connectFollowingSecret(): Promise<pg.Client> {
      const internals = this as unknown as ClientInternals;
      const timeout = internals._connectionTimeoutMillis;
      const deadline = Date.now() + timeout;
      const tried = await credentials();
      try {
        return await this.#attempt(tried);
      } catch (error) {
        if (!isRefusedLogin(error)) throw error;
        credentials.forget();
        const current = await credentials();
        const left = deadline - Date.now();
        if (sameCredentials(current, tried) || (timeout > 0 && left <= 0)) throw error;
        if (timeout > 0) internals._connectionTimeoutMillis = Math.ceil(left);
        return await this.#attempt(current);
      }
    }

    #attempt({ username, password }: SecretCredentials): Promise<pg.Client> {
      const internals = this as unknown as ClientInternals;
      internals.user = internals.connectionParameters.user = username;
      internals.password = internals.connectionParameters.password = password;
      return new Promise((resolve, reject) => {
        super.connect((error: Error | null) => {
          if (!error) return resolve(this);
          // Synchronously, while the refused connection's end is still to come.
          if (isRefusedLogin(error)) this.#renewConnection();
          reject(error);
        });
      });
    }

    #renewConnection(): void {
      const internals = this as unknown as ClientInternals;
      const refused = internals.connection;
      refused.removeAllListeners();
      refused.on('error', () => {}); // the server is closing it; nobody is left to tell
      refused.stream.destroy();
      internals.connection = (new pg.Client(this.#config) as unknown as ClientInternals).connection;
      internals._connecting = internals._connectionError = internals._ended = false;
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

/** The settings of one client of its own (the migration's, the maintenance's), TLS included. */
export async function singleClientConfig(source: NodeJS.ProcessEnv = process.env): Promise<pg.ClientConfig> {
  const { config, ssl } = await databaseConfig(source);
  return { ...config, ssl: sslOptions(ssl) };
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
