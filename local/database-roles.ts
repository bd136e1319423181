/**
 * The application's database roles on this machine (lambdas/adapters/pg-roles.ts): their
 * passwords, made at the first start and kept in DATA_DIR so every restart reuses them, and the
 * URLs the functions connect with. The migrate function creates the roles with these passwords,
 * as on AWS it creates them with their secrets' (local/stack.ts runs it first).
 *
 * On the embedded PostgreSQL the roles always work. On a server of your own (DATABASE_URL) they
 * may not: its user may lack CREATEROLE, or the roles may exist already with other passwords
 * (made by another checkout, or without a login by `npm run migrate`). Then every function
 * connects with DATABASE_URL, as before, and one line says why.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { APP_ROLES, type AppRole } from '../lambdas/adapters/pg-roles';
import { writeStateFile } from './state-file';

/** The roles' passwords in DATA_DIR (0600, like every state file there). */
export const ROLE_PASSWORDS_FILE = 'database-roles.json';

/** The writer's and readers' passwords. */
export type RolePasswords = Readonly<Record<AppRole, string>>;

/** The URLs the writer and the readers connect with, and why they are the owner's, if they are. */
export interface RoleUrls extends Readonly<Record<AppRole, string>> {
  /** One line for the console when the roles cannot be used. @default - the roles are used */
  readonly fallback?: string;
}

/**
 * The roles' passwords of `dataDir`: read from its file, or made (random) and written there on
 * the first start. A file that is there but not ours is refused rather than replaced: the
 * roles it was made for still have its passwords.
 */
export async function rolePasswords(dataDir: string): Promise<RolePasswords> {
  const file = path.join(dataDir, ROLE_PASSWORDS_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const made: RolePasswords = { writer: randomBytes(24).toString('hex'), reader: randomBytes(24).toString('hex') };
    await writeStateFile(file, made);
    return made;
  }
  const kept = (() => {
    try {
      return JSON.parse(text) as Partial<Record<AppRole, unknown>>;
    } catch {
      return {};
    }
  })();
  if (typeof kept.writer !== 'string' || !kept.writer || typeof kept.reader !== 'string' || !kept.reader) {
    throw new Error(`${file} does not hold the database roles' passwords; remove it to have new ones made (roles that exist keep their old passwords)`);
  }
  return { writer: kept.writer, reader: kept.reader };
}

/** `url` with another user and password. */
export function urlAs(url: string, user: string, password: string): string {
  const out = new URL(url);
  out.username = encodeURIComponent(user);
  out.password = encodeURIComponent(password);
  return out.toString();
}

/** What each role must be able to do, checked as that role: the grants of the app-roles migration. */
const ABLE: Record<AppRole, string> = {
  writer: "SELECT has_table_privilege('records', 'INSERT') AND has_table_privilege('dead_letters', 'DELETE') AS able",
  reader: "SELECT has_table_privilege('records', 'SELECT') AS able",
};

/** Why `role` cannot work with `url`, or undefined when it can. */
async function problemOf(role: AppRole, url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ able: boolean }>(ABLE[role]);
    return rows[0]?.able ? undefined : 'it lacks its grants (it was made after the migrations ran)';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether the owner's user may create roles, and who it is. */
async function owner(url: string): Promise<{ name: string; mayCreateRoles: boolean }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; may: boolean }>(
      'SELECT current_user AS name, rolsuper OR rolcreaterole AS may FROM pg_roles WHERE rolname = current_user',
    );
    return { name: rows[0]!.name, mayCreateRoles: rows[0]!.may };
  } finally {
    await client.end();
  }
}

/**
 * The URLs the writer and the readers connect with, once the migrate function has run: their
 * roles' when each logs in with its password and holds its grants, otherwise the owner's for
 * both, with the reason in `fallback`.
 */
export async function roleUrls(ownerUrl: string, passwords: RolePasswords): Promise<RoleUrls> {
  const urls = { writer: urlAs(ownerUrl, APP_ROLES.writer, passwords.writer), reader: urlAs(ownerUrl, APP_ROLES.reader, passwords.reader) };
  const problems = await Promise.all((Object.keys(urls) as AppRole[]).map(async (role) => [role, await problemOf(role, urls[role])] as const));
  const failed = problems.find(([, problem]) => problem !== undefined);
  if (!failed) return urls;
  const who = await owner(ownerUrl);
  const fallback = who.mayCreateRoles
    ? `the database role ${APP_ROLES[failed[0]]} cannot be used (${failed[1]}): every function connects as ${who.name}, the DATABASE_URL user`
    : `${who.name}, the DATABASE_URL user, may not create roles (no CREATEROLE): every function connects as ${who.name}`;
  return { writer: ownerUrl, reader: ownerUrl, fallback };
}
