/**
 * The local users: who may log in to the local stack (local/identity.ts answers the login
 * function's Cognito calls from here). They live in DATA_DIR/users.json, private (0600) and
 * written whole, with scrypt hashes of their passwords; `npm run users` manages them while the
 * stack runs or not. Local-only, like the identity itself.
 *
 * A change takes an exclusive lock file (created with O_EXCL) for its read-modify-write, so two
 * CLI runs at once both land; reads take no lock, since a rename replaces the file whole.
 */
import { randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { mkdir, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod/mini';
import type { AuthenticatedUser, UserDirectory } from './identity';
import { writeStateFile } from './state-file';

/** The users' file in DATA_DIR. */
export const USERS_FILE = 'users.json';
/** Shortest password `npm run users` accepts (the seeded default user's `admin` predates it). */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest password accepted: Cognito's limit. */
export const MAX_PASSWORD_LENGTH = 256;
/** Longest username: Cognito's, and what a record's `user_id` may hold (lambdas/core/query.ts). */
export const MAX_USERNAME_LENGTH = 128;

/** scrypt's cost: N = 2^ln, block size r, parallelism p. */
export interface ScryptParams {
  readonly ln: number;
  readonly r: number;
  readonly p: number;
}

/**
 * 32 MiB and about 0.2 s a check on a laptop core: below OWASP's N = 2^17 because every local
 * login pays it, and enough for a 0600 file on a developer's disk. Each hash names its own
 * parameters, so raising these later leaves existing users able to log in.
 */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_BYTES = 32;
const SALT_BYTES = 16;

export interface UserInfo {
  readonly username: string;
  readonly admin: boolean;
  /** When the user was added, ISO 8601. */
  readonly created: string;
}

export class InvalidUsernameError extends Error {
  override readonly name = 'InvalidUsernameError';
}
export class WeakPasswordError extends Error {
  override readonly name = 'WeakPasswordError';
}
export class UserExistsError extends Error {
  override readonly name = 'UserExistsError';
}
export class UserNotFoundError extends Error {
  override readonly name = 'UserNotFoundError';
}
/** users.json cannot be read as a users file. */
export class UsersFileError extends Error {
  override readonly name = 'UsersFileError';
}
/** Another process held the lock for longer than a change waits. */
export class UsersLockedError extends Error {
  override readonly name = 'UsersLockedError';
}

/** What is wrong with `username` as a Cognito username (1–128 letters, marks, symbols, numbers, punctuation), or undefined. */
export function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return 'it is empty';
  if (username.length > MAX_USERNAME_LENGTH) return `it is ${username.length} characters long, more than ${MAX_USERNAME_LENGTH}`;
  let position = 0;
  for (const ch of username) {
    position += 1;
    if (/[\p{L}\p{M}\p{S}\p{N}\p{P}]/u.test(ch)) continue;
    const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
    if (/\s/u.test(ch)) return `it has whitespace (${code}) at character ${position}`;
    if (/\p{Cc}/u.test(ch)) return `it has a control character (${code}) at character ${position}`;
    return `it has ${code} at character ${position}; only letters, marks, symbols, numbers and punctuation are allowed`;
  }
  return undefined;
}

/** Throws InvalidUsernameError naming the problem. */
export function checkUsername(username: string): void {
  const problem = usernameProblem(username);
  if (problem) throw new InvalidUsernameError(`invalid username ${JSON.stringify(username)}: ${problem}`);
}

/** Throws WeakPasswordError unless `password` is 8 to 256 characters long. */
export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new WeakPasswordError(`the password is too short: a local user's needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) throw new WeakPasswordError(`the password is too long: at most ${MAX_PASSWORD_LENGTH} characters`);
}

const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => scrypt(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** A PHC string: `$scrypt$ln=15,r=8,p=1$<salt>$<key>`, both unpadded base64, a random 16-byte salt. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(await derive(password, salt, params, KEY_BYTES))}`;
}

const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Whether `password` is the one `encoded` was made from; a malformed hash throws UsersFileError. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const match = PHC.exec(encoded);
  const [ln, r, p] = [Number(match?.[1]), Number(match?.[2]), Number(match?.[3])];
  // Bounds against a hand-edited file asking for a gigabyte or a minute per login.
  if (!match || ln < 10 || ln > 20 || r < 1 || r > 32 || p < 1 || p > 16) throw new UsersFileError('a password hash is not a scrypt PHC string this store can check');
  const expected = Buffer.from(match[5]!, 'base64');
  if (expected.length < 16) throw new UsersFileError('a password hash is too short to check');
  const key = await derive(password, Buffer.from(match[4]!, 'base64'), { ln, r, p }, expected.length);
  return timingSafeEqual(key, expected);
}

const StoredUser = z.object({ username: z.string(), admin: z.boolean(), created: z.string(), password: z.string() });
type StoredUser = z.infer<typeof StoredUser>;
const UsersDocument = z.object({ version: z.literal(1), users: z.array(StoredUser) });

export interface SeedUser {
  readonly username: string;
  readonly password: string;
  readonly admin: boolean;
}

export interface UserStoreOptions {
  /** The users' file (DATA_DIR/users.json). */
  readonly file: string;
  /** Who the file starts with when it does not exist (the env user); none when absent. */
  readonly seed?: SeedUser;
  /** @default DEFAULT_SCRYPT */
  readonly scrypt?: ScryptParams;
  /** How long a change waits for another process's lock. @default 5000 */
  readonly lockTimeoutMs?: number;
  /** A lock older than this is a crashed holder's, whatever its PID says. @default 30000 */
  readonly staleLockMs?: number;
}

/** The store in DATA_DIR, seeded with the env user as `npm start` does. */
export function localUserStore(config: { DATA_DIR: string; LOCAL_USERNAME: string; LOCAL_PASSWORD: string; LOCAL_USER_IS_ADMIN: boolean }): UserStore {
  const problem = usernameProblem(config.LOCAL_USERNAME);
  if (problem) throw new InvalidUsernameError(`Invalid configuration: LOCAL_USERNAME is not a username: ${problem}`);
  return new UserStore({
    file: path.join(config.DATA_DIR, USERS_FILE),
    seed: { username: config.LOCAL_USERNAME, password: config.LOCAL_PASSWORD, admin: config.LOCAL_USER_IS_ADMIN },
  });
}

const errorCode = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

export class UserStore implements UserDirectory {
  private cache: { readonly key: string; readonly users: readonly StoredUser[] } | undefined;
  /** Checked for an unknown user, so a login costs one scrypt whether or not the user exists. */
  private readonly dummyHash: string;

  constructor(private readonly options: UserStoreOptions) {
    const { ln, r, p } = options.scrypt ?? DEFAULT_SCRYPT;
    this.dummyHash = `$scrypt$ln=${ln},r=${r},p=${p}$${b64(randomBytes(SALT_BYTES))}$${b64(randomBytes(KEY_BYTES))}`;
  }

  get file(): string {
    return this.options.file;
  }

  /** Creates the file with the seed user when it does not exist; true when it did so now. */
  async seedIfMissing(): Promise<boolean> {
    if (!this.options.seed || (await this.exists())) return false;
    return (await this.change(() => ({ result: undefined }))).seeded;
  }

  async list(): Promise<UserInfo[]> {
    return (await this.current()).map(({ username, admin, created }) => ({ username, admin, created }));
  }

  async find(username: string): Promise<UserInfo | undefined> {
    return (await this.list()).find((u) => u.username === username);
  }

  /** Adds a user; the username must be Cognito's kind and the password 8 to 256 characters. */
  async add(user: SeedUser): Promise<UserInfo> {
    checkUsername(user.username);
    checkPassword(user.password);
    // Hashed before the lock: another process's change need not wait for this one's scrypt.
    const stored: StoredUser = { ...user, created: new Date().toISOString(), password: await this.hash(user.password) };
    await this.change((users) => {
      if (users.some((u) => u.username === user.username)) throw new UserExistsError(`user ${JSON.stringify(user.username)} exists already in ${this.file}`);
      return { users: [...users, stored], result: undefined };
    });
    return { username: stored.username, admin: stored.admin, created: stored.created };
  }

  async remove(username: string): Promise<UserInfo> {
    const { result } = await this.change((users) => {
      const user = users.find((u) => u.username === username);
      if (!user) throw new UserNotFoundError(`no user ${JSON.stringify(username)} in ${this.file}`);
      return { users: users.filter((u) => u !== user), result: { username: user.username, admin: user.admin, created: user.created } };
    });
    return result;
  }

  /** The user, when `password` is theirs; null otherwise. Reads the file again when it has changed. */
  async authenticate(username: string, password: string): Promise<AuthenticatedUser | null> {
    const user = (await this.current()).find((u) => u.username === username);
    const matches = await verifyPassword(password, user?.password ?? this.dummyHash);
    return user && matches ? { username: user.username, admin: user.admin } : null;
  }

  private hash(password: string): Promise<string> {
    return hashPassword(password, this.options.scrypt ?? DEFAULT_SCRYPT);
  }

  private async exists(): Promise<boolean> {
    return stat(this.file).then(
      () => true,
      (error: unknown) => (errorCode(error) === 'ENOENT' ? false : Promise.reject(error)),
    );
  }

  /** The users as the file holds them now: parsed again only when its inode, size or mtime changed. */
  private async current(): Promise<readonly StoredUser[]> {
    let handle;
    try {
      handle = await open(this.file, 'r');
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
      if (!this.options.seed) return [];
      await this.seedIfMissing();
      return this.current();
    }
    try {
      const info = await handle.stat();
      const key = `${info.ino}:${info.size}:${info.mtimeMs}`;
      if (this.cache?.key !== key) this.cache = { key, users: this.parse(await handle.readFile('utf8')) };
      return this.cache.users;
    } finally {
      await handle.close();
    }
  }

  private parse(text: string): StoredUser[] {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new UsersFileError(`${this.file} is not JSON; fix it, or move it aside to start again from the seed user`);
    }
    const parsed = UsersDocument.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UsersFileError(`${this.file} is not a users file (${issue?.path.join('.') || 'top level'}: ${issue?.message}); fix it, or move it aside`);
    }
    return parsed.data.users;
  }

  /** One read-modify-write under the lock; the file is created (with the seed) when missing. */
  private async change<T>(apply: (users: readonly StoredUser[]) => { users?: StoredUser[]; result: T }): Promise<{ result: T; seeded: boolean }> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const release = await this.lock();
    try {
      const text = await readFile(this.file, 'utf8').catch((error: unknown) => (errorCode(error) === 'ENOENT' ? undefined : Promise.reject(error)));
      const seed = this.options.seed;
      const before = text !== undefined ? this.parse(text) : seed ? [{ ...seed, created: new Date().toISOString(), password: await this.hash(seed.password) }] : [];
      const { users, result } = apply(before);
      if (users || text === undefined) {
        await writeStateFile(this.file, { version: 1, users: users ?? before });
        this.cache = undefined;
      }
      return { result, seeded: text === undefined && seed !== undefined };
    } finally {
      await release();
    }
  }

  /**
   * Takes `<file>.lock`, created exclusively and holding `<pid> <token>`. A lock whose process
   * is gone, or that is older than staleLockMs, is a crashed holder's and is taken over.
   */
  private async lock(): Promise<() => Promise<void>> {
    const lockFile = `${this.file}.lock`;
    const token = `${process.pid} ${randomUUID()}`;
    const deadline = Date.now() + (this.options.lockTimeoutMs ?? 5_000);
    const readLock = () => readFile(lockFile, 'utf8').catch(() => undefined);
    for (;;) {
      try {
        const handle = await open(lockFile, 'wx', 0o600);
        await handle.writeFile(token).finally(() => handle.close());
        return async () => {
          if ((await readLock()) === token) await rm(lockFile, { force: true });
        };
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const holder = await readLock();
      const since = await stat(lockFile).then((s) => Date.now() - s.mtimeMs, () => 0);
      const pid = Number(holder?.split(' ')[0]);
      const stale = since > (this.options.staleLockMs ?? 30_000) || (Number.isInteger(pid) && pid > 0 && !processAlive(pid));
      // Removed only if it is still the same lock, so a fresh one taken meanwhile is left alone.
      if (holder !== undefined && stale && (await readLock()) === holder) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new UsersLockedError(`${lockFile} is held by process ${holder?.split(' ')[0] || '?'}; if no \`npm run users\` is running, delete that file`);
      }
      await sleep(10 + Math.random() * 30);
    }
  }
}
