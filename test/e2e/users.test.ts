/**
 * Users managed with `npm run users` while the local stack runs: one added by the command logs
 * in through POST /auth/token at once, two users who are not admins each read only their own
 * records, the seeded admin reads both, and a removed user can no longer log in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, startTestStack, waitFor } from '../support/stack';
import { runUsers, withoutLocalSettings } from '../support/users-cli';

describe('local users managed while the stack runs', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  const window = { start_time: '2003-03-03T00:00:00Z', end_time: '2003-03-03T23:59:59Z', limit: '100' };

  /** `npm run users -- …args` against the running stack's DATA_DIR. */
  const users = (args: string[]) => runUsers(args, withoutLocalSettings({ DATA_DIR: stack.config.DATA_DIR }));

  const upload = async (token: string, data: number, date: string) => {
    const response = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ records: [{ data, date }] }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { ids: string[] }).ids;
  };

  const records = async (token: string) => {
    const response = await fetch(`${stack.httpUrl}/api/data/records?${new URLSearchParams(window)}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    return ((await response.json()) as { records: { user_id: string; data: number }[] }).records.map((r) => [r.user_id, r.data]);
  };

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => stack?.cleanup());

  it('lets users added with the command log in at once, each seeing only their own records, the admin all', async () => {
    // Arrange: two users who are not admins, added while the stack runs.
    for (const name of ['alice', 'bob']) {
      const added = await users(['add', name, '--password', `${name}-password`]);
      expect(added.code, added.stderr).toBe(0);
    }

    // Act
    const alice = await login(stack.httpUrl, 'alice', 'alice-password');
    const bob = await login(stack.httpUrl, 'bob', 'bob-password');
    const ids = [...(await upload(alice, 1, '2003-03-03T10:00:00Z')), ...(await upload(bob, 2, '2003-03-03T11:00:00Z'))];
    await waitFor(async () => {
      const { rows } = await stack.pool.query('SELECT count(*)::int AS n FROM records WHERE id = ANY($1::uuid[])', [ids]);
      return rows[0].n === ids.length;
    }, 30_000);

    // Assert
    expect(await records(alice)).toEqual([['alice', 1]]);
    expect(await records(bob)).toEqual([['bob', 2]]);
    expect(await records(await login(stack.httpUrl))).toEqual([
      ['alice', 1],
      ['bob', 2],
    ]);
  });

  it('refuses a removed user\'s next login, while the token they already hold lives on until it expires', async () => {
    // Arrange
    expect((await users(['add', 'carol', '--password', 'carol-password'])).code).toBe(0);
    const held = await login(stack.httpUrl, 'carol', 'carol-password');

    // Act
    const removed = await users(['remove', 'carol']);

    // Assert
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('tokens already issued stay valid until they expire');
    await expect(login(stack.httpUrl, 'carol', 'carol-password')).rejects.toThrow('login failed: 401');
    expect(await records(held)).toEqual([]);
  });
});
