/**
 * TokenIssuer on Cognito: USER_PASSWORD_AUTH through InitiateAuth, so the same client logs in
 * locally and on AWS.
 */
import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import type { TokenGrant, TokenIssuer } from '../core/ports';

export class CognitoTokenIssuer implements TokenIssuer {
  constructor(
    private readonly client: CognitoIdentityProviderClient,
    private readonly clientId: string,
  ) {}

  async issue(username: string, password: string): Promise<TokenGrant | null> {
    try {
      const out = await this.client.send(
        new InitiateAuthCommand({
          ClientId: this.clientId,
          AuthFlow: 'USER_PASSWORD_AUTH',
          AuthParameters: { USERNAME: username, PASSWORD: password },
        }),
      );
      const result = out.AuthenticationResult;
      if (!result?.AccessToken) return null; // a challenge (e.g. a new password) is not a login
      return { access_token: result.AccessToken, token_type: 'Bearer', expires_in: result.ExpiresIn ?? 3600 };
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NotAuthorizedException' || name === 'UserNotFoundException') return null;
      throw error;
    }
  }
}
