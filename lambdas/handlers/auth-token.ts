/**
 * POST /auth/token: exchanges a username and password for a bearer token.
 */
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import * as z from 'zod/mini';
import { InvalidJsonError, UnauthorizedError, UnsupportedMediaTypeError, ValidationError } from '../core/errors';
import type { TokenIssuer } from '../core/ports';
import { CognitoTokenIssuer } from '../adapters/cognito-token-issuer';
import { CognitoEnv, deferred, readEnv } from '../shared/env';
import { bodyText, header, httpHandler, json } from '../shared/http';

const Credentials = z.object({
  username: z.string({ error: 'must be a non-empty string' }).check(z.minLength(1, { error: 'must be a non-empty string' })),
  password: z.string({ error: 'must be a non-empty string' }).check(z.minLength(1, { error: 'must be a non-empty string' })),
});

export function makeAuthTokenHandler(deps: { readonly issuer: TokenIssuer }) {
  return httpHandler(async (event) => {
    if (!/^application\/json\s*(;|$)/i.test(header(event, 'content-type') ?? '')) {
      throw new UnsupportedMediaTypeError('Send the body as application/json.');
    }
    let body: unknown;
    try {
      body = JSON.parse(bodyText(event));
    } catch {
      throw new InvalidJsonError('The body is not valid JSON.');
    }
    const parsed = Credentials.safeParse(body);
    if (!parsed.success) {
      throw new ValidationError(
        'Send {"username": "...", "password": "..."}.',
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    const grant = await deps.issuer.issue(parsed.data.username, parsed.data.password);
    if (!grant) throw new UnauthorizedError('Wrong username or password.');
    return json(200, grant, { 'cache-control': 'no-store' });
  });
}

/** The Lambda entry point: logs in with the stack's Cognito app client. */
export const handler = deferred(() =>
  makeAuthTokenHandler({
    issuer: new CognitoTokenIssuer(new CognitoIdentityProviderClient({}), readEnv(CognitoEnv).COGNITO_CLIENT_ID),
  }),
);
