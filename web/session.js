// The login session. The token is kept in sessionStorage (this tab only, gone when it closes)
// so that a reload does not ask for the password again; with it its expiry, read from the
// JWT's `exp` without verifying the signature: the API verifies every request, this copy only
// decides whether the token is worth reusing. The token never goes in a URL (except the
// WebSocket's ?token=, which the protocol requires) and is never logged.

/** The sessionStorage key: { token, exp?, api?, ws? }; exp is read from the token when absent. */
export const SESSION_KEY = 'data-handler.session';
/** A token this close to its expiry is not reused: it would fail before the page is up. */
const MIN_REMAINING_MS = 15_000;
/** Cognito's (and the local identity's) group whose members see every user. */
const ADMIN_GROUP = 'admin';

/** The claims of a JWT, decoded without verifying it; null when it is not a JWT. */
export function claimsOf(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Who the token speaks for: records carry `sub` as user_id; the admin group sees everyone. */
export function principalOf(claims) {
  // A verified token holds the groups as a list; an authorizer's flattened claims as "[a b]".
  const raw = claims['cognito:groups'];
  const groups = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.replace(/^\[|\]$/g, '').split(' ') : [];
  return { userId: claims.sub, name: claims.username ?? claims.sub, isAdmin: groups.includes(ADMIN_GROUP) };
}

/** Keeps the session for reloads; returns it with its expiry. */
export function saveSession({ token, api, ws }) {
  const session = { token, exp: claimsOf(token)?.exp, api, ws };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

/**
 * The kept session: { session } when it can be reused, { expired: true } when it has run out
 * (said on the login form), {} when there is none.
 */
export function loadSession() {
  let session;
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
  } catch {}
  if (!session?.token) return {};
  const claims = claimsOf(session.token);
  const exp = session.exp ?? claims?.exp;
  if (!claims?.sub || !(exp * 1000 - Date.now() > MIN_REMAINING_MS)) {
    clearSession();
    return { expired: true };
  }
  return { session: { ...session, exp } };
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** POST /auth/token: the access token, or an Error carrying the API's own message. */
export async function requestToken(apiBase, username, password) {
  let answer;
  try {
    answer = await fetch(new URL('auth/token', apiBase), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch (error) {
    throw new Error(`Cannot reach the API: ${error.message}`);
  }
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error?.message ?? `Log-in failed (${answer.status}).`);
  return body.access_token;
}
