/**
 * POST /auth/token: exchanges a username and password for a bearer token, within the
 * failed-login limit per username and per address (lambdas/core/login-limit.ts). The stage's
 * route throttle and Cognito's own protections stand in front of it on AWS; this limit holds
 * locally as well, and across every environment of the function when its table is bound.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { Credentials } from '../core/api-schemas';
import { InvalidJsonError, TooManyLoginAttemptsError, UnauthorizedError, UnsupportedMediaTypeError, ValidationError } from '../core/errors';
import { LOGIN_LIMITS, LoginAttempt, type LoginAttemptStore, type LoginLimits } from '../core/login-limit';
import type { TokenIssuer } from '../core/ports';
import { CognitoTokenIssuer } from '../adapters/cognito-token-issuer';
import { DynamoLoginAttempts } from '../adapters/dynamo-login-attempts';
import { MemoryLoginAttempts } from '../adapters/memory-login-attempts';
import { documentClient } from '../shared/dynamo-client';
import { AuthTokenEnv, deferred, readEnv } from '../shared/env';
import { bodyText, header, httpHandler, json } from '../shared/http';
import { logger, metrics } from '../shared/observability';


export interface AuthTokenDeps {
  readonly issuer: TokenIssuer;
  readonly attempts: LoginAttemptStore;
  /** @default LOGIN_LIMITS */
  readonly limits?: LoginLimits;
  readonly now?: () => number;
}

/** An attempt that could not be given back only makes the limit stricter: log it, answer anyway. */
const uncounted = (error: unknown) => logger.warn('login attempt not given back', { error: String(error) });

export function makeAuthTokenHandler(deps: AuthTokenDeps) {
  const now = deps.now ?? Date.now;
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
    const { username, password } = parsed.data;
    const sourceIp = event.requestContext.http.sourceIp;
    const attempt = await LoginAttempt.begin(deps.attempts, username, sourceIp, now(), deps.limits ?? LOGIN_LIMITS).catch((error: unknown) => {
      // A brute-force attempt in progress: worth a metric to alarm on and a line to trace.
      if (error instanceof TooManyLoginAttemptsError) {
        metrics.addMetric('LoginsLimited', MetricUnit.Count, 1);
        logger.info('login refused by the failed-login limit', { sourceIp, retryAfterSeconds: error.retryAfterSeconds });
      }
      throw error;
    });
    let grant;
    try {
      grant = await deps.issuer.issue(username, password);
    } catch (error) {
      await attempt.abandoned().catch(uncounted);
      throw error;
    }
    // A failure stays counted. The answer is the same whether the user exists or not.
    if (!grant) throw new UnauthorizedError('Wrong username or password.');
    await attempt.succeeded().catch(uncounted);
    return json(200, grant, { 'cache-control': 'no-store' });
  });
}

/** The Lambda entry point: logs in with the stack's Cognito app client. */
export const handler = deferred(() => {
  const env = readEnv(AuthTokenEnv);
  if (!env.LOGIN_ATTEMPTS_TABLE) logger.warn('LOGIN_ATTEMPTS_TABLE is not set: failed logins are counted in this execution environment only');
  return makeAuthTokenHandler({
    issuer: new CognitoTokenIssuer(new CognitoIdentityProviderClient({}), env.COGNITO_CLIENT_ID),
    attempts: env.LOGIN_ATTEMPTS_TABLE ? new DynamoLoginAttempts(documentClient, env.LOGIN_ATTEMPTS_TABLE) : new MemoryLoginAttempts(),
  });
});
