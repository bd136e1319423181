/**
 * `npm run users -- --aws` against moto's server (CloudFormation and Cognito on 127.0.0.1),
 * run as the command itself with the SDK pointed there by AWS_ENDPOINT_URL: the pool found
 * from the stack's UserPoolId output, users created confirmed and in the admin group, listed,
 * removed, and AWS's refusals as one line each. Skipped, saying so, where moto is not installed.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminListGroupsForUserCommand,
  CognitoIdentityProviderClient,
  CreateGroupCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_GROUP } from '../../lambdas/core/principal';
import { runUsers } from '../support/users-cli';

const moto = spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' }).status === 0;
if (!moto) console.warn('users-aws.test.ts: skipped, moto is not installed (pip install "moto[server]" to run it)');

const REGION = 'us-east-1';
const STRONG = 'Str0ng-Passw0rd!';

/** Starts `python3 -m moto.server` on a free port of 127.0.0.1. */
async function startMoto(): Promise<{ endpoint: string; server: ChildProcess }> {
  const server = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`moto did not start: ${seen}`)), 30_000);
    const look = (chunk: Buffer) => {
      seen += chunk.toString();
      const port = /Running on http:\/\/127\.0\.0\.1:(\d+)/.exec(seen)?.[1];
      if (port) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${port}`);
      }
    };
    server.stdout!.on('data', look);
    server.stderr!.on('data', look);
    server.once('exit', (code) => reject(new Error(`moto exited (${code}): ${seen}`)));
  });
  return { endpoint, server };
}

describe.skipIf(!moto)('npm run users -- --aws (against moto)', () => {
  let server: ChildProcess | undefined;
  let endpoint: string;
  let idp: CognitoIdentityProviderClient;
  let poolId: string;
  let clientId: string;

  /** The command's environment: moto's endpoint and test credentials, nothing of the caller's AWS setup. */
  const awsEnv = (extra: Record<string, string | undefined> = {}) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('LOCAL_')));
    const merged: Record<string, string | undefined> = {
      ...env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extra,
    };
    return Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
  };

  const users = (args: string[], options: { stdin?: string; env?: Record<string, string | undefined> } = {}) => runUsers(args, awsEnv(options.env), options.stdin);

  const exists = (username: string) =>
    idp.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: username })).then(
      (u) => u.UserStatus,
      (e: Error) => (e.name === 'UserNotFoundException' ? undefined : Promise.reject(e)),
    );

  beforeAll(async () => {
    ({ endpoint, server } = await startMoto());
    const config = { endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } };
    idp = new CognitoIdentityProviderClient(config);
    // The pool as lib/constructs/identity.ts makes it: its password policy and its admin group.
    const pool = await idp.send(
      new CreateUserPoolCommand({
        PoolName: 'data-handler-users',
        Policies: { PasswordPolicy: { MinimumLength: 12, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: true } },
      }),
    );
    poolId = pool.UserPool!.Id!;
    await idp.send(new CreateGroupCommand({ UserPoolId: poolId, GroupName: ADMIN_GROUP }));
    clientId = (await idp.send(new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: 'client', ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'] }))).UserPoolClient!.ClientId!;
    // moto's CloudFormation makes no Cognito resources, so the stack only carries the output.
    const cloudFormation = new CloudFormationClient(config);
    const stack = (outputs: object) => JSON.stringify({ Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } }, Outputs: outputs });
    await cloudFormation.send(new CreateStackCommand({ StackName: 'DataHandler', TemplateBody: stack({ UserPoolId: { Value: poolId } }) }));
    await cloudFormation.send(new CreateStackCommand({ StackName: 'SomethingElse', TemplateBody: stack({ Other: { Value: 'x' } }) }));
    cloudFormation.destroy();
    await idp.send(new AdminCreateUserCommand({ UserPoolId: poolId, Username: 'taken', MessageAction: 'SUPPRESS' }));
  });
  afterAll(async () => {
    idp?.destroy();
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  });

  it('adds an admin to the pool named by the stack\'s UserPoolId output: confirmed, in the admin group, able to log in', async () => {
    // Act
    const run = await users(['add', 'alice', '--admin', '--password', STRONG, '--aws', '--region', REGION]);

    // Assert
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`added alice (admin: sees every user's records) to user pool ${poolId} (stack DataHandler)`);
    expect(await exists('alice')).toBe('CONFIRMED');
    const groups = await idp.send(new AdminListGroupsForUserCommand({ UserPoolId: poolId, Username: 'alice' }));
    expect(groups.Groups?.map((g) => g.GroupName)).toEqual([ADMIN_GROUP]);
    const login = await idp.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: 'alice', PASSWORD: STRONG } }));
    expect(login.AuthenticationResult?.AccessToken).toBeTruthy();
  });

  it('adds a user who is no admin, with the password from standard input and the pool named by --user-pool-id', async () => {
    // Act
    const run = await users(['add', 'bob', '--aws', '--user-pool-id', poolId, '--region', REGION], { stdin: `${STRONG}\n` });

    // Assert
    expect(run.code, run.stderr).toBe(0);
    expect(await exists('bob')).toBe('CONFIRMED');
    const groups = await idp.send(new AdminListGroupsForUserCommand({ UserPoolId: poolId, Username: 'bob' }));
    expect(groups.Groups).toEqual([]);
  });

  it('lists every user with admin yes or no, status and the token sub that records carry', async () => {
    // Arrange
    await users(['add', 'lister-admin', '--admin', '--password', STRONG, '--aws', '--region', REGION]);
    await users(['add', 'lister-plain', '--password', STRONG, '--aws', '--region', REGION]);

    // Act
    const run = await users(['list', '--aws', '--region', REGION]);

    // Assert
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ADMIN\s+CREATED\s+STATUS\s+USER_ID \(token sub\)$/);
    const sub = (await idp.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: 'lister-admin' }))).UserAttributes!.find((a) => a.Name === 'sub')!.Value!;
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^lister-admin\\s+yes\\s+\\S+Z\\s+CONFIRMED\\s+${sub}$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^lister-plain\s+no\s+\S+Z\s+CONFIRMED\s+[0-9a-f-]{36}$/));
  });

  it('removes a user and says that tokens already issued stay valid until they expire', async () => {
    // Arrange
    await users(['add', 'leaver', '--password', STRONG, '--aws', '--region', REGION]);

    // Act
    const run = await users(['remove', 'leaver', '--aws', '--region', REGION]);

    // Assert
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/removed leaver from user pool .*tokens already issued stay valid until they expire/);
    expect(await exists('leaver')).toBeUndefined();
  });

  it('reports the pool\'s password policy and leaves no half-made user behind', async () => {
    // Act
    const run = await users(['add', 'weakling', '--password', 'alllowercase', '--aws', '--region', REGION]);

    // Assert
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^users: the user pool's password policy refused the password: /)]);
    expect(await exists('weakling')).toBeUndefined();
  });

  it.each([
    { name: 'a user who exists', args: ['add', 'taken', '--password', STRONG], env: {}, error: /user "taken" exists already in user pool/ },
    { name: 'removing nobody', args: ['remove', 'nobody'], env: {}, error: /no user "nobody" in user pool/ },
    { name: 'a stack that does not exist', args: ['list', '--stack', 'Missing'], env: {}, error: /no stack Missing in us-east-1: deploy it first/ },
    { name: 'a stack with no UserPoolId output', args: ['list', '--stack', 'SomethingElse'], env: {}, error: /stack SomethingElse has no UserPoolId output/ },
    { name: 'no credentials', args: ['list'], env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined }, error: /no AWS credentials: set AWS_PROFILE/ },
    { name: 'an invalid username', args: ['add', 'tab\there', '--password', STRONG], env: {}, error: /invalid username "tab\\there": it has whitespace/ },
  ])('refuses $name with one line and exit status 1', async ({ args, env, error }) => {
    // Act
    const run = await users([...args, '--aws', '--region', REGION], { env });

    // Assert
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(error)]);
  });

  it('asks for a region when none is given or configured', async () => {
    const run = await users(['list', '--aws']);

    expect(run.code).toBe(1);
    expect(run.stderr.trim()).toMatch(/^users: no AWS region: pass --region/);
  });
});
