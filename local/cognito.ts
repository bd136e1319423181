/**
 * The part of Cognito's user pool API that the login function calls, answered by the local
 * identity: `InitiateAuth` with USER_PASSWORD_AUTH, in the AWS JSON 1.1 protocol the SDK
 * speaks. The login function's code and SDK client are the ones that run on AWS; only
 * AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER points here. Local-only, like the identity itself.
 */
import type { TokenIssuer } from '../lambdas/core/ports';

/** The X-Amz-Target prefix of the user pool API. */
export const COGNITO_TARGET_PREFIX = 'AWSCognitoIdentityProviderService.';

export interface AwsJsonAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const CONTENT_TYPE = 'application/x-amz-json-1.1';

function answer(status: number, body: unknown, errorType?: string): AwsJsonAnswer {
  return {
    status,
    headers: { 'content-type': CONTENT_TYPE, ...(errorType ? { 'x-amzn-errortype': errorType } : {}) },
    body: JSON.stringify(errorType ? { __type: errorType, ...(body as object) } : body),
  };
}

/** Answers one user pool API call (`target` is the X-Amz-Target header) for app client `clientId`. */
export async function answerCognito(target: string, body: string, issuer: TokenIssuer, clientId: string): Promise<AwsJsonAnswer> {
  const operation = target.slice(COGNITO_TARGET_PREFIX.length);
  if (operation !== 'InitiateAuth') {
    return answer(400, { message: `${operation} is not supported by the local identity; only InitiateAuth is.` }, 'UnknownOperationException');
  }
  let input: { AuthFlow?: unknown; ClientId?: unknown; AuthParameters?: Record<string, unknown> };
  try {
    input = JSON.parse(body) as typeof input;
  } catch {
    return answer(400, { message: 'The request body is not JSON.' }, 'SerializationException');
  }
  if (input.ClientId !== clientId) return answer(400, { message: 'User pool client does not exist.' }, 'ResourceNotFoundException');
  if (input.AuthFlow !== 'USER_PASSWORD_AUTH') {
    return answer(400, { message: 'Only USER_PASSWORD_AUTH is enabled for this client locally.' }, 'InvalidParameterException');
  }
  const username = input.AuthParameters?.USERNAME;
  const password = input.AuthParameters?.PASSWORD;
  if (typeof username !== 'string' || typeof password !== 'string') {
    return answer(400, { message: 'Missing required parameter USERNAME or PASSWORD' }, 'InvalidParameterException');
  }
  const grant = await issuer.issue(username, password);
  if (!grant) return answer(400, { message: 'Incorrect username or password.' }, 'NotAuthorizedException');
  return answer(200, {
    AuthenticationResult: { AccessToken: grant.access_token, ExpiresIn: grant.expires_in, TokenType: grant.token_type },
    ChallengeParameters: {},
  });
}
