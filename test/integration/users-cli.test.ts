/**
 * `npm run users` run as the command itself (node --import tsx bin/users.ts) on a temporary
 * DATA_DIR: adding with --password, from standard input and at a terminal prompt, listing,
 * removing, and one clear line with a non-zero status for each kind of bad input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling';
import { UserStore } from '../../local/users';
import { runUsers, withoutLocalSettings, type UsersRun } from '../support/users-cli';

/** The environment of `npm start` with its defaults: no LOCAL_* of the caller's. */
const cleanEnv = (dataDir: string) => withoutLocalSettings({ DATA_DIR: dataDir });

const users = (dataDir: string, args: string[], stdin = ''): Promise<UsersRun> => runUsers(args, cleanEnv(dataDir), stdin);

const python = spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }).status === 0;

describe('npm run users (local)', () => {
  let dir: string;
  const store = () => new UserStore({ file: path.join(dir, 'users.json') });

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-users-cli-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('adds a user with --password, who can then log in, after seeding the env user', async () => {
    // Act
    const run = await users(dir, ['add', 'alice', '--password', 'alice-password']);

    // Assert
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('made');
    expect(run.stdout).toMatch(/added alice \(sees their own records\) to .*users\.json; they can log in now/);
    expect(await store().authenticate('alice', 'alice-password')).toEqual({ username: 'alice', admin: false });
    expect(await store().authenticate('parsa', 'admin')).toEqual({ username: 'parsa', admin: true });
  });

  it('reads the password as one line of standard input when that is not a terminal', async () => {
    // Act
    const run = await users(dir, ['add', 'bob', '--admin'], 'piped-password\r\nnot this line\n');

    // Assert
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('added bob (admin');
    expect(await store().authenticate('bob', 'piped-password')).toEqual({ username: 'bob', admin: true });
  });

  it.skipIf(!python)('asks for the password twice at a terminal, without echoing it', async () => {
    // Arrange: a pseudo-terminal, typed into as a person would.
    const driver = `
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], '--import', 'tsx', 'bin/users.ts', 'add', 'carol'])
out = b''
def until(text):
    global out
    while text not in out:
        out += os.read(fd, 1024)
until(b'password for carol: ')
os.write(fd, b'typed-secret\\r')
until(b'same again: ')
os.write(fd, b'typed-secret\\r')
try:
    while True:
        chunk = os.read(fd, 1024)
        if not chunk: break
        out += chunk
except OSError:
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode())
sys.exit(os.waitstatus_to_exitcode(status))
`;
    // Act
    const run = spawnSync('python3', ['-c', driver, process.execPath], { cwd: PROJECT_ROOT, env: cleanEnv(dir), encoding: 'utf8', timeout: 60_000 });

    // Assert
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain('added carol');
    expect(run.stdout).not.toContain('typed-secret');
    expect(await store().authenticate('carol', 'typed-secret')).toEqual({ username: 'carol', admin: false });
  });

  it('lists every user with admin yes or no and when they were created', async () => {
    // Arrange
    await users(dir, ['add', 'alice', '--password', 'alice-password']);

    // Act
    const run = await users(dir, ['list']);

    // Assert
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ADMIN\s+CREATED$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(/^parsa\s+yes\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/),
      expect.stringMatching(/^alice\s+no\s+\d{4}-\d\d-\d\dT[\d:.]+Z$/),
    ]);
  });

  it('removes a user and says that tokens already issued stay valid until they expire', async () => {
    // Arrange
    await users(dir, ['add', 'alice', '--password', 'alice-password']);

    // Act
    const run = await users(dir, ['remove', 'alice']);

    // Assert
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/removed alice .*new logins are refused at once.*tokens already issued stay valid until they expire/);
    expect(await store().authenticate('alice', 'alice-password')).toBeNull();
    expect((await store().list()).map((u) => u.username)).toEqual(['parsa']);
  });

  it('keeps every user when several runs add at once', async () => {
    // Act
    const runs = await Promise.all(['u1', 'u2', 'u3', 'u4'].map((name) => users(dir, ['add', name, '--password', `${name}-password`])));

    // Assert
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    expect((await store().list()).map((u) => u.username).sort()).toEqual(['parsa', 'u1', 'u2', 'u3', 'u4']);
  }, 60_000);

  it('prints its help and succeeds', async () => {
    const run = await users(dir, ['--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/add NAME \[--admin\] \[--password P\]/);
    expect(run.stdout).toContain('--aws');
  });

});

describe('npm run users (local) on bad input', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'dh-users-cli-'));
    await users(dir, ['add', 'alice', '--password', 'alice-password']);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  describe('refuses it with one clear line and a non-zero status', () => {

    it.each([
      { name: 'an unknown command', args: ['frobnicate'], code: 2, error: /unknown command "frobnicate"/ },
      { name: 'no command', args: [], code: 2, error: /no command/ },
      { name: 'add without a name', args: ['add'], code: 2, error: /add needs a username/ },
      { name: 'remove without a name', args: ['remove'], code: 2, error: /remove needs a username/ },
      { name: 'an AWS option without --aws', args: ['list', '--stack', 'Other'], code: 2, error: /--stack goes with --aws/ },
      { name: 'an unknown option', args: ['add', 'dave', '--verbose'], code: 2, error: /Unknown option '--verbose'/ },
      { name: 'a user who exists', args: ['add', 'alice', '--password', 'another-password'], code: 1, error: /user "alice" exists already/ },
      { name: 'removing nobody', args: ['remove', 'zed'], code: 1, error: /no user "zed"/ },
      { name: 'a weak password', args: ['add', 'dave', '--password', 'short'], code: 1, error: /too short: .*at least 8 characters/ },
      { name: 'a username with a space', args: ['add', 'da ve', '--password', 'long-enough'], code: 1, error: /invalid username "da ve": it has whitespace/ },
      { name: 'no password on empty standard input', args: ['add', 'dave'], code: 1, error: /no password: pass --password/ },
    ])('$name: exit $code', async ({ args, code, error }) => {
      // Act
      const run = await users(dir, args);

      // Assert
      expect(run.code).toBe(code);
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(error)]);
      expect(run.stderr).toMatch(/^users: /);
    });
  });
});
