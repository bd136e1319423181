/**
 * Who is calling, from token claims.
 */
import type { Principal } from './ports';

/** The group whose members see every user's records. */
export const ADMIN_GROUP = 'admin';

/**
 * A name Cognito accepts for a group (CreateGroup's pattern: letters, marks, symbols, numbers
 * and punctuation, 1 to 128 of them). No whitespace: that is what makes the HTTP API's "[a b]"
 * rendering of a list unambiguous.
 */
const GROUP_NAME = /^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u;

/** Whether `name` could be the name of a Cognito group. */
export function isGroupName(name: unknown): name is string {
  return typeof name === 'string' && GROUP_NAME.test(name);
}

/**
 * Reads the principal from JWT claims. A verified token carries `cognito:groups` as a list;
 * the HTTP API's JWT authorizer hands claims to the function as strings and renders a list as
 * "[a b]" (local/http-gateway.ts `flattenClaims` does the same). Membership is an exact match
 * on one element of that list: `ops,admin`, `not admin` or `Admin` is not `admin`.
 */
export function principalFromClaims(claims: Record<string, unknown>): Principal | null {
  const sub = claims['sub'];
  if (typeof sub !== 'string' || sub.length === 0) return null;
  return { userId: sub, isAdmin: groupsOf(claims['cognito:groups']).includes(ADMIN_GROUP) };
}

/**
 * The groups of a claim: a list's elements, or the "[a b]" rendering of a list split at each
 * single space (its only separator, and a character no group name holds). Anything else, a
 * bare string included, is not a list and names no group.
 */
export function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter(isGroupName);
  if (typeof value !== 'string' || !value.startsWith('[') || !value.endsWith(']')) return [];
  return value.slice(1, -1).split(' ').filter(isGroupName);
}
