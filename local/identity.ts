/**
 * The local identity provider: a stand-in for Cognito. It signs RS256 access tokens with a
 * local key (kept in DATA_DIR so tokens survive a restart), serves its JWKS, and asks a user
 * directory who may log in: the local users' file (local/users.ts) in the local stack, a fixed
 * list in tests. Local-only: never expose it beyond 127.0.0.1.
 */
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ADMIN_GROUP } from '../lambdas/core/principal';
import type { TokenGrant, TokenIssuer } from '../lambdas/core/ports';

/** A user with a password in the clear: a fixture for tests and emulators, never stored. */
export interface LocalUser {
  readonly username: string;
  readonly password: string;
  readonly admin: boolean;
}

/** Who a login is for. */
export interface AuthenticatedUser {
  readonly username: string;
  readonly admin: boolean;
}

/** Who may log in. */
export interface UserDirectory {
  /** The user, when `password` is theirs; null otherwise, unknown users included. */
  authenticate(username: string, password: string): Promise<AuthenticatedUser | null>;
}

/** A fixed list of users held in memory (tests, the Cognito emulator). */
export class InMemoryUsers implements UserDirectory {
  constructor(private readonly users: readonly LocalUser[]) {}

  async authenticate(username: string, password: string): Promise<AuthenticatedUser | null> {
    const user = this.users.find((u) => u.username === username);
    // Compare digests so the time taken says nothing about the password.
    const given = createHash('sha256').update(password).digest();
    const expected = createHash('sha256').update(user?.password ?? '\u0000no-user').digest();
    return user && timingSafeEqual(given, expected) ? { username: user.username, admin: user.admin } : null;
  }
}

export interface LocalIdentityOptions {
  /** The token issuer (`iss`): the local HTTP gateway's base URL. */
  readonly issuer: string;
  /** The token audience, as a Cognito app client id would be. */
  readonly audience: string;
  /** Who may log in: a directory (the local users' file), or a fixed list held in memory. */
  readonly users: UserDirectory | readonly LocalUser[];
  /** Where the signing key is kept; a fresh key each start when absent. */
  readonly keyFile?: string;
  readonly tokenLifetimeSeconds?: number;
}

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export class LocalIdentity implements TokenIssuer {
  private readonly users: UserDirectory;

  private constructor(
    private readonly options: LocalIdentityOptions,
    private readonly privateKey: PrivateKey,
    private readonly kid: string,
    /** The public JSON Web Key Set served at `/.well-known/jwks.json`. */
    readonly jwks: { keys: JWK[] },
  ) {
    this.users = 'authenticate' in options.users ? options.users : new InMemoryUsers(options.users);
  }

  static async create(options: LocalIdentityOptions): Promise<LocalIdentity> {
    let privateJwk: JWK;
    if (options.keyFile && existsSync(options.keyFile)) {
      privateJwk = JSON.parse(await readFile(options.keyFile, 'utf8')) as JWK;
    } else {
      const pair = await generateKeyPair('RS256', { extractable: true });
      privateJwk = await exportJWK(pair.privateKey);
      if (options.keyFile) {
        await mkdir(path.dirname(options.keyFile), { recursive: true });
        await writeFile(options.keyFile, JSON.stringify(privateJwk), { mode: 0o600 });
      }
    }
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
    const kid = createHash('sha256').update(String(publicJwk.n)).digest('base64url').slice(0, 16);
    const privateKey = (await importJWK(privateJwk, 'RS256')) as PrivateKey;
    return new LocalIdentity(options, privateKey, kid, { keys: [{ ...publicJwk, kid, alg: 'RS256', use: 'sig' }] });
  }

  async issue(username: string, password: string): Promise<TokenGrant | null> {
    const user = await this.users.authenticate(username, password);
    return user ? this.tokenFor(user.username, user.admin) : null;
  }

  /** A token for any subject: for tests and tools that need a second user. */
  async tokenFor(subject: string, admin: boolean): Promise<TokenGrant> {
    const lifetime = this.options.tokenLifetimeSeconds ?? 3600;
    const token = await new SignJWT({
      client_id: this.options.audience,
      token_use: 'access',
      username: subject,
      'cognito:groups': admin ? [ADMIN_GROUP] : [],
    })
      .setProtectedHeader({ alg: 'RS256', kid: this.kid, typ: 'JWT' })
      .setIssuer(this.options.issuer)
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime(`${lifetime}s`)
      .sign(this.privateKey);
    return { access_token: token, token_type: 'Bearer', expires_in: lifetime };
  }
}
