/**
 * Who is calling, from token claims.
 */
import type { Principal } from './ports';

/** The group whose members see every user's records. */
export const ADMIN_GROUP = 'admin';

/**
 * Reads the principal from JWT claims. The HTTP API's JWT authorizer hands claims to the
 * function as strings, rendering a list as "[a b]", so both spellings of groups are read.
 */
export function principalFromClaims(claims: Record<string, unknown>): Principal | null {
  const sub = claims['sub'];
  if (typeof sub !== 'string' || sub.length === 0) return null;
  return { userId: sub, isAdmin: groupsOf(claims['cognito:groups']).includes(ADMIN_GROUP) };
}

function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string') return [];
  const inner = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return inner.split(/[\s,]+/).filter(Boolean);
}
