/**
 * The local users' file (local/users.ts) on a real disk, with real processes: what it keeps,
 * who it lets in, that a running stack sees another process's change, and that processes
 * changing it at once lose nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling';
import { UserExistsError, UserNotFoundError, UsersFileError, UsersLockedError, UserStore, WeakPasswordError } from '../../local/users';

/** Cheap hashes: these tests are about the file, not the cost. */
const FAST = { ln: 10, r: 8, p: 1 };
const SEED = { username: 'parsa', password: 'admin', admin: true };

/** Runs `code` in another Node process with `UserStore` and the file in scope. */
function inAnotherProcess(file: string, code: string): Promise<string> {
  const script = `const { UserStore } = await import(process.argv[1]); const file = process.argv[2]; ${code}`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, path.join(PROJECT_ROOT, 'local/users.ts'), file], { cwd: PROJECT_ROOT });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err}`))));
  });
}

describe('the local users file', () => {
  let dir: string;
  let file: string;
  const store = (extra: Partial<ConstructorParameters<typeof UserStore>[0]> = {}) => new UserStore({ file, scrypt: FAST, ...extra });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-users-'));
    file = path.join(dir, 'users.json');
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('keeps scrypt hashes with their parameters and salt, never a password', async () => {
    // Arrange
    const users = store();

    // Act
    await users.add({ username: 'alice', password: 'same-password', admin: false });
    await users.add({ username: 'bob', password: 'same-password', admin: true });

    // Assert
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('same-password');
    const saved = JSON.parse(text) as { version: number; users: { username: string; admin: boolean; created: string; password: string }[] };
    expect(saved.version).toBe(1);
    expect(saved.users.map((u) => [u.username, u.admin])).toEqual([['alice', false], ['bob', true]]);
    for (const u of saved.users) expect(u.password).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(saved.users[0]!.password).not.toBe(saved.users[1]!.password);
    expect(Number.isNaN(Date.parse(saved.users[0]!.created))).toBe(false);
  });

  it('lets a user in with their password only, and an unknown user never', async () => {
    // Arrange
    const users = store();
    await users.add({ username: 'alice', password: 'alice-password', admin: false });
    await users.add({ username: 'root', password: 'root-password', admin: true });

    // Act / Assert
    expect(await users.authenticate('alice', 'alice-password')).toEqual({ username: 'alice', admin: false });
    expect(await users.authenticate('root', 'root-password')).toEqual({ username: 'root', admin: true });
    expect(await users.authenticate('alice', 'root-password')).toBeNull();
    expect(await users.authenticate('Alice', 'alice-password')).toBeNull();
    expect(await users.authenticate('nobody', 'alice-password')).toBeNull();
  });

  it('keeps the file private (0600) and leaves no lock or scratch file behind', async () => {
    // Arrange
    const users = store({ seed: SEED });

    // Act
    await users.seedIfMissing();
    const afterSeed = (await stat(file)).mode & 0o777;
    await users.add({ username: 'alice', password: 'alice-password', admin: false });
    await users.remove('alice');

    // Assert
    expect(afterSeed).toBe(0o600);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['users.json']);
  });

  it('starts a missing file with the seed user, whose documented password may be short, and only once', async () => {
    // Arrange
    const users = store({ seed: SEED });

    // Act
    const first = await users.seedIfMissing();
    await users.remove('parsa');
    const second = await users.seedIfMissing();

    // Assert
    expect(first).toBe(true);
    expect(second).toBe(false);
    expect(await users.list()).toEqual([]);
  });

  it('seeds on first use when nobody seeded it first, so the documented login works', async () => {
    const users = store({ seed: SEED });

    expect(await users.authenticate('parsa', 'admin')).toEqual({ username: 'parsa', admin: true });
  });

  it('refuses a short password for an added user, a second user of the same name, and removing nobody', async () => {
    const users = store();
    await users.add({ username: 'alice', password: 'alice-password', admin: false });

    await expect(users.add({ username: 'bob', password: 'short', admin: false })).rejects.toThrow(WeakPasswordError);
    await expect(users.add({ username: 'alice', password: 'other-password', admin: true })).rejects.toThrow(UserExistsError);
    await expect(users.remove('carol')).rejects.toThrow(UserNotFoundError);
    expect(await users.list()).toMatchObject([{ username: 'alice', admin: false }]);
  });

  it('sees users added and removed by another process at once, with no restart', async () => {
    // Arrange: this store has read the file (and cached it) before the other process writes.
    const running = store({ seed: SEED });
    expect(await running.authenticate('alice', 'alice-password')).toBeNull();

    // Act
    await inAnotherProcess(file, `await new UserStore({ file, scrypt: { ln: 10, r: 8, p: 1 } }).add({ username: 'alice', password: 'alice-password', admin: false });`);
    const afterAdd = await running.authenticate('alice', 'alice-password');
    await inAnotherProcess(file, `await new UserStore({ file }).remove('alice');`);
    const afterRemove = await running.authenticate('alice', 'alice-password');

    // Assert
    expect(afterAdd).toEqual({ username: 'alice', admin: false });
    expect(afterRemove).toBeNull();
  });

  it('keeps every user when several processes add at once', async () => {
    // Arrange
    await store({ seed: SEED }).seedIfMissing();
    const perProcess = 15;
    const adder = (tag: string) =>
      inAnotherProcess(
        file,
        `const users = new UserStore({ file, scrypt: { ln: 10, r: 8, p: 1 } });
         for (let i = 0; i < ${perProcess}; i++) await users.add({ username: '${tag}' + i, password: 'password-' + i, admin: false });`,
      );

    // Act
    await Promise.all([adder('a'), adder('b'), adder('c')]);

    // Assert
    const names = (await store().list()).map((u) => u.username);
    expect(names).toHaveLength(1 + 3 * perProcess);
    for (const tag of ['a', 'b', 'c']) for (let i = 0; i < perProcess; i++) expect(names).toContain(`${tag}${i}`);
  }, 60_000);

  it('takes over a lock left by a process that has exited', async () => {
    // Arrange: the lock of a process that is gone.
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.on('close', resolve));
    await writeFile(`${file}.lock`, `${gone.pid} left-behind`);

    // Act
    await store({ lockTimeoutMs: 2_000 }).add({ username: 'alice', password: 'alice-password', admin: false });

    // Assert
    expect((await store().list()).map((u) => u.username)).toEqual(['alice']);
    expect(await readdir(dir)).toEqual(['users.json']);
  });

  it('gives up with a clear error while a live process holds the lock', async () => {
    // Arrange: held by this very process, which is alive.
    await writeFile(`${file}.lock`, `${process.pid} held`);

    // Act
    const adding = store({ lockTimeoutMs: 300 }).add({ username: 'alice', password: 'alice-password', admin: false });

    // Assert
    await expect(adding).rejects.toThrow(UsersLockedError);
    await expect(adding).rejects.toThrow(`held by process ${process.pid}`);
  });

  it('names the file when it is not a users file, rather than letting anyone in', async () => {
    // Arrange
    await writeFile(file, '{"version": 1, "users": [{"username": "alice"}]}');

    // Act
    const login = store({ seed: SEED }).authenticate('alice', 'whatever');

    // Assert
    await expect(login).rejects.toThrow(UsersFileError);
    await expect(login).rejects.toThrow(file);
  });
});
