/**
 * Group membership is an exact match on one element of a list, in every spelling a claim can
 * take: a list (a verified token: the WebSocket authorizer, the local gateway's verifier) and
 * the "[a b]" string the HTTP API's JWT authorizer (and the local gateway) hands to functions.
 */
import { describe, expect, it } from 'vitest';
import { groupsOf, isGroupName, principalFromClaims } from '../../../lambdas/core/principal';
import { flattenClaims } from '../../../local/http-gateway';

const isAdmin = (groups: unknown) => principalFromClaims({ sub: 'u', 'cognito:groups': groups })?.isAdmin;

/** What a function receives for a token with these groups, through the gateway's rendering. */
const viaGateway = (groups: string[]) => isAdmin(flattenClaims({ sub: 'u', 'cognito:groups': groups })['cognito:groups']);

describe('group membership', () => {
  it.each([
    [['admin']],
    [['users', 'admin']],
    [['admin', 'users']],
  ])('counts admin when %j holds the group admin itself, as a list and as "[a b]"', (groups) => {
    // Act
    const asList = isAdmin(groups);
    const asString = viaGateway(groups);
    // Assert
    expect(asList).toBe(true);
    expect(asString).toBe(true);
  });

  it.each([
    [['ops,admin']],
    [['admin,ops']],
    [['Admin']],
    [['ADMIN']],
    [['administrators']],
    [['admins']],
    [['not-admin']],
    [['admin\u200b']],
    [['аdmin']], // a Cyrillic а
    [[]],
  ])('does not count %j as admin, as a list or through the gateway', (groups) => {
    expect(isAdmin(groups)).toBe(false);
    expect(viaGateway(groups)).toBe(false);
  });

  it.each([
    [['not admin']],
    [['admin ']],
    [[' admin']],
    [['ops\tadmin']],
    [['ops\nadmin']],
    [['x'.repeat(129)]],
    [['']],
  ])('ignores %j in a list: no Cognito group can have that name', (groups) => {
    // Act
    const principal = principalFromClaims({ sub: 'u', 'cognito:groups': groups });
    // Assert
    expect(principal).toEqual({ userId: 'u', isAdmin: false });
  });

  it.each([
    ['admin'],
    ['not admin'],
    ['ops,admin'],
    ['users admin'],
    ['[admin'],
    ['admin]'],
    ['[ops,admin]'],
    ['[ops\tadmin]'],
    ['[ADMIN]'],
    ['[]'],
    [''],
  ])('does not count the string %j as admin: only the "[a b]" rendering of a list holding admin does', (value) => {
    expect(isAdmin(value)).toBe(false);
  });

  it.each([
    ['[admin]', true],
    ['[users admin]', true],
    ['[admin users]', true],
    ['[users  admin]', true],
  ])('reads the HTTP API string %j', (value, expected) => {
    expect(isAdmin(value)).toBe(expected);
  });

  it.each([[undefined], [null], [42], [{ admin: true }], [[['admin']]], [[{ name: 'admin' }]], [true]])(
    'does not count a claim of another type (%j) as admin',
    (value) => {
      expect(isAdmin(value)).toBe(false);
    },
  );

  it('renders and reads back every valid group name of a list exactly', () => {
    // Arrange
    const groups = ['admin', 'ops,admin', 'a.b', 'é', '[x]', 'a]b'];
    // Act
    const read = groupsOf(flattenClaims({ 'cognito:groups': groups })['cognito:groups']);
    // Assert
    expect(read).toEqual(groups);
  });

  it('accepts as a group name what Cognito accepts, and nothing with whitespace or controls', () => {
    expect(['admin', 'ops,admin', 'x'.repeat(128), 'グループ', 'a-b_c'].every(isGroupName)).toBe(true);
    expect(['', 'not admin', 'a\u00a0b', 'a\u0000b', 'x'.repeat(129), 7].some(isGroupName)).toBe(false);
  });
});
