/**
 * The token verifier for this environment's identity provider, from JWT_ISSUER, JWT_AUDIENCE
 * and JWKS_URL.
 */
import { JwtVerifier } from '../adapters/jwt-verifier';
import { AuthEnv, readEnv } from './env';

export function verifierFromEnv(): JwtVerifier {
  const env = readEnv(AuthEnv);
  return new JwtVerifier({
    issuer: env.JWT_ISSUER,
    audience: env.JWT_AUDIENCE,
    jwksUrl: env.JWKS_URL ?? `${env.JWT_ISSUER.replace(/\/$/, '')}/.well-known/jwks.json`,
  });
}
