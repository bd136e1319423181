/**
 * Least privilege for the database on AWS: each function reads the secret of its catalogue
 * role and no other (only migrate reads the master user's), connects with it, and finds no
 * password in its environment; the proxy admits all three users; the roles' secrets rotate
 * between each role and its clone, from the same subnets as the master user's rotation.
 */
import { describe, expect, it } from 'vitest';
import { APP_ROLES } from '../../lambdas/adapters/pg-roles';
import { databaseRoleOf, FUNCTION_SPECS, FUNCTIONS, type FunctionName } from '../../lambdas/functions';
import { FUNCTION_NAME_TAG } from '../../lib/constructs/handler-function';
import { statementsOf, synth } from './stack';

type Resource = { Type: string; Properties: Record<string, any> };

const MASTER = 'data_handler_admin';

/** Each catalogued function's role and its environment variables, by function name. */
function functionsOf(resources: Record<string, Resource>) {
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
      .map(([, r]) => [(r.Properties.Tags ?? []).find((t: { Key: string }) => t.Key === FUNCTION_NAME_TAG)?.Value, r.Properties] as const)
      .filter(([name]) => name !== undefined),
  ) as Record<FunctionName, Record<string, any>>;
}

/** The database user a secret (or its attachment) holds, by logical id: from its generated template. */
function userOf(resources: Record<string, Resource>, logicalId: string): string {
  const resource = resources[logicalId];
  if (!resource) throw new Error(`${logicalId} is not in the template`);
  if (resource.Type === 'AWS::SecretsManager::SecretTargetAttachment') return userOf(resources, resource.Properties.SecretId.Ref);
  if (resource.Type !== 'AWS::SecretsManager::Secret') throw new Error(`${logicalId} is a ${resource.Type}, not a secret`);
  const template = resource.Properties.GenerateSecretString.SecretStringTemplate;
  const text = typeof template === 'string' ? template : (template['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : 'reference')).join('');
  return (JSON.parse(text) as { username: string }).username;
}

/** The users whose secrets a role's policies let it read. */
function readableUsers(template: ReturnType<typeof synth>['template'], roleLogicalId: string, resources: Record<string, Resource>): string[] {
  return statementsOf(template, roleLogicalId)
    .filter((s) => [s.Action].flat().includes('secretsmanager:GetSecretValue'))
    .flatMap((s) => [s.Resource].flat() as { Ref?: string }[])
    .map((r) => (r.Ref ? userOf(resources, r.Ref) : `not a secret reference: ${JSON.stringify(r)}`))
    .sort();
}

describe.each([
  ['behind the proxy', {}],
  ['without the proxy', { useRdsProxy: false }],
])('the database roles on AWS (%s)', (_label, props) => {
  const { template } = synth(props);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const deployed = functionsOf(resources);
  const expected: Record<string, string[]> = {
    owner: [MASTER],
    writer: [APP_ROLES.writer],
    reader: [APP_ROLES.reader],
  };
  // Only the function that creates the roles reads their secrets too.
  const expectedOf = (name: FunctionName, role: string) =>
    FUNCTIONS[name].bindings.includes('create-database-roles') ? [MASTER, APP_ROLES.reader, APP_ROLES.writer].sort() : (expected[role] ?? []);

  it.each(FUNCTION_SPECS.map((s) => [s.name, databaseRoleOf(s) ?? 'none'] as const))('lets %s (role %s) read only its role\'s secrets', (name, role) => {
    const fn = deployed[name];

    const readable = readableUsers(template, fn.Role['Fn::GetAtt'][0], resources);

    expect(readable).toEqual(expectedOf(name, role));
  });

  it('lets the migration and the maintenance alone read the master user\'s secret, and the writer and the readers only theirs', () => {
    const readers = FUNCTION_SPECS.filter((s) => readableUsers(template, deployed[s.name].Role['Fn::GetAtt'][0], resources).includes(MASTER)).map((s) => s.name);
    const writerSecretReaders = FUNCTION_SPECS.filter((s) =>
      readableUsers(template, deployed[s.name].Role['Fn::GetAtt'][0], resources).includes(APP_ROLES.writer),
    ).map((s) => s.name);

    expect(readers).toEqual(['migrate', 'maintain']);
    expect(writerSecretReaders.sort()).toEqual(['batch-writer', 'migrate']);
  });

  it.each(FUNCTION_SPECS.filter((s) => databaseRoleOf(s)).map((s) => [s.name] as const))('connects %s with its role\'s secret and puts no password in its environment', (name) => {
    const variables = deployed[name].Environment.Variables as Record<string, any>;
    const user = userOf(resources, variables.DATABASE_SECRET_ARN.Ref);

    expect(user).toBe({ owner: MASTER, writer: APP_ROLES.writer, reader: APP_ROLES.reader }[databaseRoleOf(FUNCTION_SPECS.find((s) => s.name === name)!)!]);
    expect(Object.keys(variables).filter((k) => /PASSWORD/.test(k))).toEqual([]);
    if (name === 'migrate') {
      expect(userOf(resources, variables.DATABASE_WRITER_SECRET_ARN.Ref)).toBe(APP_ROLES.writer);
      expect(userOf(resources, variables.DATABASE_READER_SECRET_ARN.Ref)).toBe(APP_ROLES.reader);
    } else {
      expect(variables.DATABASE_WRITER_SECRET_ARN).toBeUndefined();
    }
  });

  it('deploys the writer, the readers and the health function after the migration, which creates their roles', () => {
    const [schema] = Object.keys(resources).filter((id) => resources[id]!.Type === 'Custom::DataHandlerSchema');
    const dependsOn = (name: FunctionName) => {
      const [id] = Object.entries(resources).find(([, r]) => r.Properties === deployed[name])!;
      return (template.toJSON().Resources[id].DependsOn ?? []) as string[];
    };

    for (const name of ['batch-writer', 'records-query', 'records-series', 'swing-analyze', 'health'] as const) expect(dependsOn(name), name).toContain(schema);
  });

  it("generates a secret for each role, without the master user's ARN: no rotation logs in as the master for them", () => {
    const secrets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret');
    const roles = secrets.filter(([id]) => userOf(resources, id) !== MASTER);

    expect(roles.map(([id]) => userOf(resources, id)).sort()).toEqual([APP_ROLES.reader, APP_ROLES.writer]);
    for (const [, secret] of roles) expect(JSON.stringify(secret.Properties.GenerateSecretString.SecretStringTemplate)).not.toContain('masterarn');
  });

  // Single-user: the user name in a role's secret never changes, so RDS Proxy, which admits only
  // the user of a secret's current version (aws-cdk#25568), always has credentials for it.
  it("rotates each role's secret single-user, from the subnets of the master user's rotation", () => {
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::SecretsManager::RotationSchedule');
    const applicationOf = (schedule: Resource) => resources[schedule.Properties.RotationLambdaARN['Fn::GetAtt'][0]]!;
    const byUser = Object.fromEntries(schedules.map((s) => [userOf(resources, s.Properties.SecretId.Ref), s]));
    const mapping = (schedule: Resource) => JSON.stringify(template.toJSON().Mappings[applicationOf(schedule).Properties.Location.ApplicationId['Fn::FindInMap'][0]]);

    expect(Object.keys(byUser).sort()).toEqual([MASTER, APP_ROLES.reader, APP_ROLES.writer].sort());
    for (const role of [APP_ROLES.writer, APP_ROLES.reader]) {
      const schedule = byUser[role]!;
      expect(mapping(schedule)).toContain('SecretsManagerRDSPostgreSQLRotationSingleUser');
      expect(mapping(schedule)).not.toContain('MultiUser');
      expect(applicationOf(schedule).Properties.Parameters.masterSecretArn).toBeUndefined();
      expect(applicationOf(schedule).Properties.Parameters.vpcSubnetIds).toEqual(applicationOf(byUser[MASTER]!).Properties.Parameters.vpcSubnetIds);
      // The role exists only once the migrate function has run: no rotation at deploy.
      expect(schedule.Properties.RotateImmediatelyOnUpdate).toBe(false);
    }
  });

  it('admits all three users at the proxy, and lets the proxy read their secrets', () => {
    const proxies = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::RDS::DBProxy');
    if ('useRdsProxy' in props) return expect(proxies).toEqual([]);

    const [[, proxy]] = proxies as [[string, Resource]];
    const users = (proxy.Properties.Auth as { SecretArn: { Ref: string } }[]).map((a) => userOf(resources, a.SecretArn.Ref)).sort();

    expect(users).toEqual([MASTER, APP_ROLES.reader, APP_ROLES.writer].sort());
    expect(readableUsers(template, proxy.Properties.RoleArn['Fn::GetAtt'][0], resources)).toEqual(users);
  });
});
