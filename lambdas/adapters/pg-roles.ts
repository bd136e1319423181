/**
 * The application's login roles in PostgreSQL. The batch writer connects as `data_handler_writer`,
 * the query functions as `data_handler_reader`; only the migrations run as the owner. The
 * migrate function creates each role that is missing, with its password, before the migrations
 * run; what each may do is granted by a migration (migrations/1765065600000_app-roles.sql).
 *
 * A role that exists is never altered: its password belongs to whoever set it (on AWS, the
 * Secrets Manager rotation, which swaps between the role and its `_clone`).
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
