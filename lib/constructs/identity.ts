import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccountRecovery, CfnUserPoolGroup, UserPool, UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { ADMIN_GROUP } from '../../lambdas/core/principal';

export interface IdentityProps {
  /** What happens to the user pool (and its users) when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Access token lifetime. @default Duration.hours(1) */
  readonly accessTokenValidity?: Duration;
}

/**
 * Who may send and watch records: a Cognito user pool (no self sign-up; an administrator
 * creates users), an app client for scripts (USER_PASSWORD_AUTH) and browsers (SRP), and the
 * `admin` group whose members see every user's records.
 */
export class Identity extends Construct {
  public readonly userPool: UserPool;
  public readonly client: UserPoolClient;
  /** The issuer of the pool's tokens; its JWKS is at `<issuer>/.well-known/jwks.json`. */
  public readonly issuerUrl: string;

  constructor(scope: Construct, id: string, props: IdentityProps = {}) {
    super(scope, id);
    this.userPool = new UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      deletionProtection: (props.removalPolicy ?? RemovalPolicy.RETAIN) === RemovalPolicy.RETAIN,
    });
    this.client = this.userPool.addClient('Client', {
      authFlows: { userPassword: true, userSrp: true },
      // Clients log in through the API (USER_PASSWORD_AUTH) or SRP; nothing uses the hosted UI.
      // Left on, CDK's defaults would allow the implicit and code grants with an example.com
      // callback: a redirect target nobody owns here.
      disableOAuth: true,
      generateSecret: false,
      preventUserExistenceErrors: true,
      accessTokenValidity: props.accessTokenValidity ?? Duration.hours(1),
      idTokenValidity: props.accessTokenValidity ?? Duration.hours(1),
    });
    new CfnUserPoolGroup(this, 'AdminGroup', {
      userPoolId: this.userPool.userPoolId,
      groupName: ADMIN_GROUP,
      description: 'Members see every user\'s records on the monitoring WebSocket.',
    });
    this.issuerUrl = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;

    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG2',
      reason: 'Telemetry senders are scripts and devices that log in with USER_PASSWORD_AUTH; MFA would lock them out. Enable it per pool for human-only deployments.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason: 'The Plus feature plan is a paid tier; the Essentials plan covers password and SRP sign-in used here.',
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG3',
      reason: 'Threat protection (advanced security) is a paid Cognito plan; left to the operator. Self sign-up is off and passwords are strong.',
    });
  }
}
