/**
 * The application's login roles in PostgreSQL. The batch writer connects as `data_handler_writer`,
 * the query functions as `data_handler_reader`; only the migrations run as the owner. The
 * migrate function creates each role that is missing, with its password, before the migrations
 * run; what each may do is granted by a migration (migrations/1765065600000_app-roles.sql).
 *
 * A role that exists keeps its password: it belongs to whoever set it (on AWS, the Secrets
 * Manager single-user rotation, which sets a new password on the role itself; the user name
 * never changes). Only its connection limit is set again, on every deploy (applyConnectionLimits).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import pg from 'pg';

/** The roles' names, the same on AWS (the secrets' usernames) and locally. */
export const APP_ROLES = { writer: 'data_handler_writer', reader: 'data_handler_reader' } as const;

/** Which of the application's roles. */
export type AppRole = keyof typeof APP_ROLES;

/** A role to make when it is missing. */
export interface LoginRole {
  readonly name: string;
  /** Asked for only when the role has to be created (on AWS it is a Secrets Manager read). */
  readonly password: () => Promise<string>;
}

/** What became of each role, by name. */
export type RoleOutcomes = Record<string, 'created' | 'existing'>;

/** CREATE ROLE's duplicate_object, and the unique index it trips when two runs race. */
const ALREADY_THERE = new Set(['42710', '23505']);

/**
 * A SCRAM-SHA-256 verifier of `password`, as PostgreSQL stores it. CREATE ROLE is sent with this
 * rather than the password: a statement that fails is written to the server log (on RDS, to
 * CloudWatch Logs) and must not carry the password in clear. The passwords here are generated
 * ASCII, which SASLprep leaves as they are, so no normalisation is needed.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Creates each of `roles` that does not exist yet, able to log in with its password; leaves
 * every existing role as it is. Fails as PostgreSQL does when the connection's user may not
 * create roles (42501, insufficient_privilege).
 */
export async function ensureLoginRoles(connection: string | pg.ClientConfig, roles: readonly LoginRole[]): Promise<RoleOutcomes> {
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  await client.connect();
  try {
    const outcomes: RoleOutcomes = {};
    for (const role of roles) {
      const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role.name]);
      if (found.rowCount) {
        outcomes[role.name] = 'existing';
        continue;
      }
      const verifier = scramVerifier(await role.password());
      try {
        await client.query(`CREATE ROLE ${client.escapeIdentifier(role.name)} LOGIN PASSWORD ${client.escapeLiteral(verifier)}`);
        outcomes[role.name] = 'created';
      } catch (error) {
        // Another run (a second stack on the same server) made it since the check: it is theirs.
        if (!ALREADY_THERE.has((error as { code?: string }).code ?? '')) throw error;
        outcomes[role.name] = 'existing';
      }
    }
    return outcomes;
  } finally {
    await client.end();
  }
}

/** The connections a role may hold at once, by role name; -1 for no limit. */
export type ConnectionLimits = Readonly<Record<string, number>>;

/** PostgreSQL keeps a role's connection limit in an int4. */
const MAX_CONNECTION_LIMIT = 2_147_483_647;

/**
 * Throws, naming the role, unless `limit` is a connection limit this module sets: a positive
 * integer, or -1 for none. Zero is refused too: it would lock the role out altogether.
 */
export function checkConnectionLimit(role: string, limit: unknown): asserts limit is number {
  if (!role) throw new Error('A connection limit needs a role name; got an empty one');
  const valid = typeof limit === 'number' && Number.isInteger(limit) && (limit === -1 || (limit >= 1 && limit <= MAX_CONNECTION_LIMIT));
  if (!valid) throw new Error(`The connection limit of role "${role}" must be a positive integer, or -1 for none; got ${JSON.stringify(limit)}`);
}

/**
 * Sets each role's CONNECTION LIMIT, so that PostgreSQL itself holds each role to its share of
 * the server's connections: functions that scale out (the readers, which have no reserved
 * concurrency) are refused (53300, too many connections for role) before they can take the
 * connections the batch writer needs. The limit holds only for plain roles, as the application's
 * are: superusers, and on RDS the members of rds_superuser, are never limited by it. It counts
 * every session of the role, RDS Proxy's own connections to the database as that role too, so
 * it holds behind the proxy as well. It applies to new sessions; sessions already open stay.
 *
 * Safe to repeat. All or none: each role must exist (a missing one is an error naming it), and
 * the statements run in one transaction, on one client that is always ended.
 */
export async function applyConnectionLimits(connection: string | pg.ClientConfig, limits: ConnectionLimits): Promise<void> {
  const roles = Object.keys(limits);
  for (const role of roles) checkConnectionLimit(role, limits[role]);
  if (!roles.length) return;
  const client = new pg.Client(typeof connection === 'string' ? { connectionString: connection } : connection);
  await client.connect();
  try {
    const found = await client.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [roles]);
    const existing = new Set(found.rows.map((r) => r.rolname));
    const missing = roles.filter((role) => !existing.has(role));
    if (missing.length) throw new Error(`Cannot set the connection limit of ${missing.map((r) => `"${r}"`).join(', ')}: no such role`);
    await client.query('BEGIN');
    try {
      for (const role of roles) await client.query(`ALTER ROLE ${client.escapeIdentifier(role)} CONNECTION LIMIT ${limits[role]}`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  } finally {
    await client.end();
  }
}
