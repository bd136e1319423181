/**
 * TokenVerifier with jose against a JWKS URL: what the HTTP API JWT authorizer checks
 * (signature, issuer, audience or client_id, an expiry that must be present and not passed),
 * done the same way locally and in the WebSocket authorizer, and two things more:
 * - the token must be an access token (`token_use: 'access'`). A Cognito ID token is signed by
 *   the same keys but says who the user is, not what a client may do; it is meant for the
 *   client, not for APIs.
 * - `cognito:groups`, when present, must be a list of names Cognito could have given a group.
 *   Cognito issues nothing else; refusing anything else keeps the "[a b]" string the local
 *   gateway hands to functions unambiguous (a group `not admin` would read as two groups).
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { UnauthorizedError } from '../core/errors';
import type { TokenVerifier } from '../core/ports';
import { isGroupName, principalFromClaims } from '../core/principal';

export interface JwtVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** The clock, in epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Accepted tokens kept, so that their signature is checked once. @default MAX_VERIFIED_TOKENS */
  readonly maxVerifiedTokens?: number;
}

/** Tokens whose verification is kept, the most recently used first kept. */
export const MAX_VERIFIED_TOKENS = 1_000;

type Verified = Awaited<ReturnType<TokenVerifier['verify']>>;

export class JwtVerifier implements TokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly now: () => number;
  /**
   * Tokens verified before, until their expiry: a client sends the same token with every
   * request, and checking its RS256 signature again cost about 0.3 ms of the gateway's thread
   * each time. A token is the same bytes, signed, so its answer is the same until `exp` or `nbf`
   * says otherwise, which is checked on every use. Only accepted tokens are kept.
   */
  private readonly verified = new Map<string, { readonly result: Verified; readonly notBeforeMs: number; readonly expiresMs: number }>();

  constructor(private readonly options: JwtVerifierOptions) {
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000 });
    this.now = options.now ?? Date.now;
  }

  /** Tokens kept verified right now. */
  get cachedTokens(): number {
    return this.verified.size;
  }

  async verify(token: string): Promise<Verified> {
    if (!token) throw new UnauthorizedError('A bearer token is required.');
    const now = this.now();
    const kept = this.verified.get(token);
    if (kept) {
      this.verified.delete(token);
      if (now >= kept.notBeforeMs && now < kept.expiresMs) {
        this.verified.set(token, kept); // the most recently used is the last to go
        return kept.result;
      }
    }
    const result = await this.check(token, now);
    const claims = result.claims as { nbf?: unknown; exp: number };
    this.verified.set(token, { result, notBeforeMs: typeof claims.nbf === 'number' ? claims.nbf * 1000 : -Infinity, expiresMs: claims.exp * 1000 });
    if (this.verified.size > (this.options.maxVerifiedTokens ?? MAX_VERIFIED_TOKENS)) this.verified.delete(this.verified.keys().next().value!);
    return result;
  }

  private async check(token: string, now: number): Promise<Verified> {
    let payload: JWTPayload;
    try {
      // jose checks exp only when the token has one: requiring it refuses tokens that never expire.
      ({ payload } = await jwtVerify(token, this.jwks, { issuer: this.options.issuer, algorithms: ['RS256'], requiredClaims: ['exp'], currentDate: new Date(now) }));
    } catch {
      throw new UnauthorizedError('The token is not valid.');
    }
    if (payload['token_use'] !== 'access') throw new UnauthorizedError('An access token is required.');
    // Cognito access tokens carry the app client in client_id (ID tokens carry it in aud).
    const audiences = [payload.aud, payload['client_id']].flat().filter((a) => typeof a === 'string');
    if (!audiences.includes(this.options.audience)) throw new UnauthorizedError('The token is not for this API.');
    const groups = payload['cognito:groups'];
    if (groups !== undefined && !(Array.isArray(groups) && groups.every(isGroupName))) {
      throw new UnauthorizedError('The token is not valid.');
    }
    const principal = principalFromClaims(payload as Record<string, unknown>);
    if (!principal) throw new UnauthorizedError('The token has no subject.');
    return { ...principal, claims: payload as Record<string, unknown> };
  }
}

/** The bearer token of an Authorization header, or '' when there is none. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match ? match[1]! : '';
}
