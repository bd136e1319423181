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
}

export class JwtVerifier implements TokenVerifier {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly options: JwtVerifierOptions) {
    this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000 });
  }

  async verify(token: string) {
    if (!token) throw new UnauthorizedError('A bearer token is required.');
    let payload: JWTPayload;
    try {
      // jose checks exp only when the token has one: requiring it refuses tokens that never expire.
      ({ payload } = await jwtVerify(token, this.jwks, { issuer: this.options.issuer, algorithms: ['RS256'], requiredClaims: ['exp'] }));
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
