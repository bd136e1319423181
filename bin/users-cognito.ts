/**
 * `npm run users -- --aws`: the deployed stack's users, in its Cognito user pool. The pool is
 * the stack's `UserPoolId` output (CloudFormation DescribeStacks), or `--user-pool-id`. Every
 * AWS failure becomes one line that says what to do.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  AdminAddUserToGroupCommand,
  AdminCreateUserCommand,
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  paginateListUsers,
  paginateListUsersInGroup,
} from '@aws-sdk/client-cognito-identity-provider';
import { ADMIN_GROUP } from '../lambdas/core/principal';
import { checkUsername, UserExistsError, UserNotFoundError, WeakPasswordError, type UserInfo } from '../local/users';

/** A Cognito user as `list` shows it. */
export interface PoolUser extends UserInfo {
  /** The token's `sub`: what the records' `user_id` holds on AWS. */
  readonly sub: string;
  /** CONFIRMED, FORCE_CHANGE_PASSWORD, … */
  readonly status: string;
}

/** An AWS call failed; the message is one line for the console. */
export class AwsUsersError extends Error {
  override readonly name = 'AwsUsersError';
}

export interface PoolTarget {
  readonly region?: string;
  /** The stack whose `UserPoolId` output names the pool. */
  readonly stack: string;
  /** The pool itself: no DescribeStacks. */
  readonly userPoolId?: string;
}

const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name ?? '';
const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

/** Failures any call can have: no credentials, no region, no permission, no network. */
function commonFailure(error: unknown): Error {
  const name = errorName(error);
  const message = errorMessage(error);
  if (name === 'CredentialsProviderError' || (/credential/i.test(message) && /could not load|missing/i.test(message))) {
    return new AwsUsersError('no AWS credentials: set AWS_PROFILE (after `aws sso login` if it uses SSO), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  }
  if (/region is missing/i.test(message)) return new AwsUsersError('no AWS region: pass --region, or set AWS_REGION or a profile region');
  if (['AccessDeniedException', 'AccessDenied', 'UnrecognizedClientException', 'InvalidClientTokenId', 'ExpiredTokenException', 'ExpiredToken'].includes(name)) {
    return new AwsUsersError(`AWS refused the call (${name}): ${message}`);
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'TimeoutError'].includes((error as { code?: string }).code ?? name)) {
    return new AwsUsersError(`cannot reach AWS (${(error as { code?: string }).code ?? name}): ${message}`);
  }
  return new AwsUsersError(`${name || 'error'}: ${message}`);
}

/** The user pool: `--user-pool-id`, or the stack's `UserPoolId` output. */
export async function resolveUserPool(target: PoolTarget): Promise<{ userPoolId: string; source: string }> {
  if (target.userPoolId) return { userPoolId: target.userPoolId, source: `user pool ${target.userPoolId}` };
  const stack = target.stack;
  const client = new CloudFormationClient(target.region ? { region: target.region } : {});
  try {
    const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stack }));
    const id = Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'UserPoolId')?.OutputValue;
    if (!id) throw new AwsUsersError(`stack ${stack} has no UserPoolId output; is it this project's stack? Pass --user-pool-id to name the pool`);
    return { userPoolId: id, source: `user pool ${id} (stack ${stack})` };
  } catch (error) {
    if (error instanceof AwsUsersError) throw error;
    if (errorName(error) === 'ValidationError' && /does not exist/i.test(errorMessage(error))) {
      const region = await client.config.region().catch(() => 'the default region');
      throw new AwsUsersError(`no stack ${stack} in ${region}: deploy it first, or pass --stack NAME, --region R or --user-pool-id ID`);
    }
    throw commonFailure(error);
  } finally {
    client.destroy();
  }
}

/** The pool's users: add, list, remove, as `npm run users` does locally. */
export class CognitoUsers {
  constructor(
    private readonly client: CognitoIdentityProviderClient,
    readonly userPoolId: string,
  ) {}

  static forRegion(userPoolId: string, region?: string): CognitoUsers {
    return new CognitoUsers(new CognitoIdentityProviderClient(region ? { region } : {}), userPoolId);
  }

  destroy(): void {
    this.client.destroy();
  }

  async has(username: string): Promise<boolean> {
    try {
      await this.client.send(new AdminGetUserCommand({ UserPoolId: this.userPoolId, Username: username }));
      return true;
    } catch (error) {
      if (errorName(error) === 'UserNotFoundException') return false;
      throw this.failure(error, username);
    }
  }

  /**
   * Creates the user with no invitation, sets a permanent password (status CONFIRMED: no change
   * asked at first login), and adds them to the admin group when asked. A user whose password
   * or group could not be set is deleted again, so no half-made user is left behind.
   */
  async add(user: { username: string; password: string; admin: boolean }): Promise<UserInfo> {
    checkUsername(user.username);
    const pool = { UserPoolId: this.userPoolId, Username: user.username };
    let created;
    try {
      created = await this.client.send(new AdminCreateUserCommand({ ...pool, MessageAction: 'SUPPRESS' }));
    } catch (error) {
      throw this.failure(error, user.username);
    }
    try {
      await this.client.send(new AdminSetUserPasswordCommand({ ...pool, Password: user.password, Permanent: true }));
      if (user.admin) await this.client.send(new AdminAddUserToGroupCommand({ ...pool, GroupName: ADMIN_GROUP }));
    } catch (error) {
      await this.client.send(new AdminDeleteUserCommand(pool)).catch(() => undefined);
      throw this.failure(error, user.username);
    }
    return { username: user.username, admin: user.admin, created: (created.User?.UserCreateDate ?? new Date()).toISOString() };
  }

  /**
   * Every user, with admin membership from one listing of the admin group (one paginated call,
   * rather than AdminListGroupsForUser once a user).
   */
  async list(): Promise<PoolUser[]> {
    try {
      const admins = new Set<string>();
      for await (const page of paginateListUsersInGroup({ client: this.client }, { UserPoolId: this.userPoolId, GroupName: ADMIN_GROUP })) {
        for (const u of page.Users ?? []) if (u.Username) admins.add(u.Username);
      }
      const users: PoolUser[] = [];
      for await (const page of paginateListUsers({ client: this.client }, { UserPoolId: this.userPoolId })) {
        for (const u of page.Users ?? []) {
          users.push({
            username: u.Username ?? '',
            admin: admins.has(u.Username ?? ''),
            created: u.UserCreateDate?.toISOString() ?? '',
            sub: u.Attributes?.find((a) => a.Name === 'sub')?.Value ?? '',
            status: u.UserStatus ?? '',
          });
        }
      }
      return users.sort((a, b) => a.created.localeCompare(b.created) || a.username.localeCompare(b.username));
    } catch (error) {
      throw this.failure(error);
    }
  }

  async remove(username: string): Promise<void> {
    try {
      await this.client.send(new AdminDeleteUserCommand({ UserPoolId: this.userPoolId, Username: username }));
    } catch (error) {
      throw this.failure(error, username);
    }
  }

  private failure(error: unknown, username?: string): Error {
    const who = JSON.stringify(username ?? '');
    switch (errorName(error)) {
      case 'UsernameExistsException':
        return new UserExistsError(`user ${who} exists already in user pool ${this.userPoolId}`);
      case 'UserNotFoundException':
        return new UserNotFoundError(`no user ${who} in user pool ${this.userPoolId}`);
      case 'InvalidPasswordException':
        return new WeakPasswordError(`the user pool's password policy refused the password: ${errorMessage(error)}`);
      case 'ResourceNotFoundException':
        return new AwsUsersError(`${errorMessage(error)} (user pool ${this.userPoolId}; its admin group is ${JSON.stringify(ADMIN_GROUP)})`);
      case 'InvalidParameterException':
        return new AwsUsersError(`Cognito refused the request: ${errorMessage(error)}`);
      default:
        return commonFailure(error);
    }
  }
}
