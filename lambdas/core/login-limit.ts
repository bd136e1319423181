/**
 * The failed-login limit of POST /auth/token: at most so many failed logins per username and
 * per client address in a window that opens at the first failure. Once a limit is reached,
 * every login for that username (or from that address) is refused with a 429 until the window
 * closes, a right password included: otherwise a guess that happened to be right would show.
 *
 * A username is counted whether or not the user exists, and the answers are the same, so the
 * limit tells an attacker nothing about which users exist.
 */
import { TooManyLoginAttemptsError } from './errors';

/** One limit: attempts that may fail within a window. */
export interface LoginLimit {
  readonly maxFailures: number;
  readonly windowSeconds: number;
}

/** The limit per username and the limit per address. */
export interface LoginLimits {
  readonly user: LoginLimit;
  readonly address: LoginLimit;
}

/** The limits: a username is locked after 5 failures in 15 minutes, an address after 20. */
export const LOGIN_LIMITS: LoginLimits = {
  user: { maxFailures: 5, windowSeconds: 15 * 60 },
  address: { maxFailures: 20, windowSeconds: 15 * 60 },
};

/** The login-attempts table: its partition key and its TTL attribute (epoch seconds). */
export const LOGIN_ATTEMPTS_TABLE = { partitionKey: 'key', timeToLiveAttribute: 'expiresAt' } as const;

/** What `take` decided. */
export type Taken = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/**
 * Counts login attempts per key. An attempt is counted before the password is checked (so a
 * burst of parallel guesses cannot slip past the limit) and given back when it did not fail.
 */
export interface LoginAttemptStore {
  /** Counts one attempt against `key`, unless its limit is reached: then says how long to wait. */
  take(key: string, limit: LoginLimit, nowMs: number): Promise<Taken>;
  /** Gives back one attempt counted against `key` (it succeeded, or never reached the check). */
  giveBack(key: string): Promise<void>;
  /** Forgets every attempt counted against `key` (the user logged in). */
  reset(key: string): Promise<void>;
}

/** The key of a username: case and Unicode spelling do not make another user. */
export function userKey(username: string): string {
  return `user:${username.trim().normalize('NFKC').toLowerCase()}`;
}

/**
 * The key of a client address. An IPv6 client usually holds a whole /64, so that is what is
 * counted; an IPv4 address inside IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function addressKey(sourceIp: string): string {
  const ip = sourceIp.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (mapped) return `address:${mapped[1]}`;
  if (!ip.includes(':')) return `address:${ip}`;
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(Math.max(8 - left.length - right.length, 0)).fill('0'), ...right] : left;
  return `address:${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** One attempt, counted against a username and an address until it is known not to have failed. */
export class LoginAttempt {
  private constructor(
    private readonly store: LoginAttemptStore,
    private readonly user: string,
    private readonly address: string,
  ) {}

  /**
   * Counts an attempt for `username` from `sourceIp`, or throws TooManyLoginAttemptsError when
   * either limit is reached (the longer wait of the two, when both are).
   */
  static async begin(store: LoginAttemptStore, username: string, sourceIp: string, nowMs: number, limits: LoginLimits = LOGIN_LIMITS): Promise<LoginAttempt> {
    const user = userKey(username);
    const address = addressKey(sourceIp);
    const [byUser, byAddress] = await Promise.all([store.take(user, limits.user, nowMs), store.take(address, limits.address, nowMs)]);
    if (byUser.allowed && byAddress.allowed) return new LoginAttempt(store, user, address);
    // Whichever was counted is given back: a refused attempt is not a failure.
    await Promise.all([byUser.allowed && store.giveBack(user), byAddress.allowed && store.giveBack(address)]);
    const waits = [byUser, byAddress].map((t) => (t.allowed ? 0 : t.retryAfterSeconds));
    throw new TooManyLoginAttemptsError(Math.max(...waits));
  }

  /** The password was right: the username starts afresh, and the address gets its attempt back. */
  async succeeded(): Promise<void> {
    await Promise.all([this.store.reset(this.user), this.store.giveBack(this.address)]);
  }

  /** The check itself failed (the identity provider was unreachable): nothing is counted. */
  async abandoned(): Promise<void> {
    await Promise.all([this.store.giveBack(this.user), this.store.giveBack(this.address)]);
  }
}
