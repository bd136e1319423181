import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { createHash } from 'node:crypto';
import { InstanceClass, InstanceSize, InstanceType, Port, SecurityGroup, SubnetType, type IConnectable, type IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  Credentials,
  DatabaseInstance,
  DatabaseSecret,
  DatabaseInstanceEngine,
  DatabaseProxy,
  ParameterGroup,
  PostgresEngineVersion,
  ProxyTarget,
  StorageType,
} from 'aws-cdk-lib/aws-rds';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { CfnApplication } from 'aws-cdk-lib/aws-sam';
import { SecretRotation, SecretRotationApplication, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { APP_ROLES, type AppRole } from '../../lambdas/adapters/pg-roles';
import type { DatabaseRole } from '../../lambdas/functions';
import type { DatabaseTarget } from './function-wiring';

export interface DatabaseProps {
  readonly vpc: IVpc;
  /** @default t4g.micro */
  readonly instanceType?: InstanceType;
  /** Put an RDS Proxy in front: pooled, multiplexed connections for bursts of Lambdas. @default true */
  readonly useProxy?: boolean;
  /** @default false */
  readonly multiAz?: boolean;
  /** Days of automated backups. @default 7 */
  readonly backupRetentionDays?: number;
  /**
   * The PostgreSQL version, pinned to a minor version so that the template says what runs; RDS
   * does not upgrade it on its own (automatic minor upgrades are off). Raise it to upgrade.
   * @default DEFAULT_ENGINE_VERSION
   */
  readonly engineVersion?: string;
  /**
   * Connections each application role may hold at once (PostgreSQL's per-role CONNECTION LIMIT,
   * set by the migrate function). @default - no limit
   */
  readonly connectionLimits?: Partial<Record<AppRole, number>>;
  /** RDS Proxy: the share of max_connections it may open. @default 100 */
  readonly proxyMaxConnectionsPercent?: number;
  /** RDS Proxy: how long a client waits for a free database connection before it is refused. @default Duration.seconds(10) */
  readonly proxyBorrowTimeout?: Duration;
  /** What happens to the instance when the stack is deleted. @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
  /** Days between automatic password rotations, of the master user and of the roles. @default 30 */
  readonly rotationDays?: number;
  /** @default 'data_handler' */
  readonly databaseName?: string;
  /**
   * Retention of the PostgreSQL log that RDS exports to CloudWatch Logs, and of the rotation
   * function's log. @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * Lambda's Node.js runtimes ship every Amazon CA (the RDS ones included) in this file, but since
 * Node.js 20 they no longer load it by default (Lambda developer guide, "Building Lambda functions
 * with Node.js"). NODE_EXTRA_CA_CERTS adds it to Node's root store at start-up.
 */
export const LAMBDA_AMAZON_CA_BUNDLE = '/var/runtime/ca-cert.pem';

/** The PostgreSQL major version the stack runs, and the minor version it pins by default. */
export const ENGINE_MAJOR = '17';
export const DEFAULT_ENGINE_VERSION = '17.9';

/** A full 17.x version (the parameter group's family is that of the major version). */
function checkEngineVersion(version: string): string {
  if (!new RegExp(`^${ENGINE_MAJOR}\\.\\d+$`).test(version)) {
    throw new Error(`dbEngineVersion must be a PostgreSQL ${ENGINE_MAJOR} minor version such as ${DEFAULT_ENGINE_VERSION}, got ${JSON.stringify(version)}`);
  }
  return version;
}

function checkLimit(role: string, limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`the ${role} role's connection limit must be a whole number of at least 1, got ${limit}`);
  return limit;
}

/**
 * The instance's identifier, from the stack's name: lower case, at most 63 characters, a letter
 * first, no double or trailing hyphen. Two stacks of a region have different names, so
 * different instances; a long name is shortened with a digest of it.
 */
export function instanceIdentifierFor(stackName: string): string {
  let base = `${stackName}-postgres`.toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/-+/g, '-');
  if (!/^[a-z]/.test(base)) base = `db-${base}`;
  if (base.length > 63) base = `${base.slice(0, 54).replace(/-+$/, '')}-${createHash('sha256').update(stackName).digest('hex').slice(0, 8)}`;
  return base.replace(/-+$/, '');
}

/**
 * PostgreSQL 17 on RDS: encrypted, in isolated subnets, TLS enforced (`rds.force_ssl`), its
 * credentials generated into Secrets Manager and rotated, backed up, and by default behind an
 * RDS Proxy that requires TLS. Besides the master user (the owner, for migrations only) it has
 * a secret for each application role (lambdas/adapters/pg-roles.ts), which the migrate function
 * creates the roles with; each function reads the secret of its catalogue role only. The proxy's name is unique to the stack (the feature flag
 * `@aws-cdk/aws-rds:databaseProxyUniqueResourceName` in cdk.json); without it every stack's
 * proxy would be named `Proxy`, and a second stack in the region could not be deployed.
 */
export class Database extends Construct implements DatabaseTarget {
  public readonly instance: DatabaseInstance;
  /** The master user's secret: the owner's, for the migrations. */
  public readonly secret: ISecret;
  /** The application roles' secrets, each rotated single-user (the role's own password changes). */
  public readonly roleSecrets: Readonly<Record<AppRole, ISecret>>;
  public readonly proxy?: DatabaseProxy;
  /** The host functions connect to: the proxy's endpoint, or the instance's. */
  public readonly endpoint: string;
  public readonly port = 5432;
  /** The writer and reader roles are created by the schema migration (SchemaMigration). */
  public readonly rolesMadeByMigration = true;
  public readonly databaseName: string;
  /** The instance's name: fixed, so that its PostgreSQL log group can exist before it does. */
  public readonly instanceIdentifier: string;
  /** The full engine version the template pins. */
  public readonly engineVersion: string;
  /** Per-role connection limits, by role name, for the migrate function to set. */
  public readonly connectionLimits: Readonly<Record<string, number>>;
  /** The log group RDS exports the PostgreSQL log to, made (and deleted) by the stack. */
  public readonly postgresLogs: LogGroup;
  /** What clients reach over the network (the proxy, or the instance). */
  private readonly target: IConnectable;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? 'data_handler';
    this.engineVersion = checkEngineVersion(props.engineVersion ?? DEFAULT_ENGINE_VERSION);
    this.connectionLimits = Object.fromEntries(
      Object.entries(props.connectionLimits ?? {}).map(([role, limit]) => [APP_ROLES[role as AppRole], checkLimit(role, limit!)]),
    );
    const engine = DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.of(this.engineVersion, ENGINE_MAJOR) });
    this.instanceIdentifier = instanceIdentifierFor(Stack.of(this).stackName);
    // RDS would create the exported log group itself, with no expiry, and keep it after the
    // stack; made first, it has the stack's retention and goes when the instance has gone.
    this.postgresLogs = new LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/instance/${this.instanceIdentifier}/postgresql`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.instance = new DatabaseInstance(this, 'Instance', {
      engine,
      instanceIdentifier: this.instanceIdentifier,
      instanceType: props.instanceType ?? InstanceType.of(InstanceClass.T4G, InstanceSize.MICRO),
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
      credentials: Credentials.fromGeneratedSecret('data_handler_admin'),
      databaseName: this.databaseName,
      storageEncrypted: true,
      allocatedStorage: 20,
      // gp3: a 3,000 IOPS baseline at any size, and cheaper per GB than gp2.
      storageType: StorageType.GP3,
      maxAllocatedStorage: 200,
      multiAz: props.multiAz ?? false,
      backupRetention: Duration.days(props.backupRetentionDays ?? 7),
      // Never at creation: a first deploy that fails after the instance exists must be able to
      // delete it, or the stack ends in ROLLBACK_FAILED. DeletionProtection (its own construct)
      // turns it on once everything else in the stack has been created.
      deletionProtection: false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      parameterGroup: new ParameterGroup(this, 'Parameters', {
        engine,
        parameters: { 'rds.force_ssl': '1', 'log_min_duration_statement': '1000' },
      }),
      cloudwatchLogsExports: ['postgresql'],
      enablePerformanceInsights: false,
      // The pinned version is what runs; upgrades are a change of `engineVersion`.
      autoMinorVersionUpgrade: false,
    });
    this.instance.node.addDependency(this.postgresLogs);
    this.secret = this.instance.secret!;
    this.addRotation(props);
    this.roleSecrets = { writer: this.addRoleSecret('writer', props), reader: this.addRoleSecret('reader', props) };

    if (props.useProxy ?? true) {
      this.proxy = new DatabaseProxy(this, 'Proxy', {
        proxyTarget: ProxyTarget.fromInstance(this.instance),
        // The proxy admits only users whose secret it holds.
        secrets: [this.secret, this.roleSecrets.writer, this.roleSecrets.reader],
        vpc: props.vpc,
        vpcSubnets: { subnetType: SubnetType.PRIVATE_ISOLATED },
        securityGroups: [new SecurityGroup(this, 'ProxySecurityGroup', { vpc: props.vpc, allowAllOutbound: false, description: 'RDS Proxy for data-handler' })],
        requireTLS: true,
        idleClientTimeout: Duration.minutes(15),
        maxConnectionsPercent: props.proxyMaxConnectionsPercent ?? 100,
        // A client waits this long for a database connection, then is refused: well within
        // every function's timeout, so the function answers rather than times out.
        borrowTimeout: props.proxyBorrowTimeout ?? Duration.seconds(10),
      });
      this.proxy.connections.allowTo(this.instance, Port.tcp(this.port), 'the proxy reaches the database');
      this.endpoint = this.proxy.endpoint;
      this.target = this.proxy;
    } else {
      this.endpoint = this.instance.dbInstanceEndpointAddress;
      this.target = this.instance;
    }

    Validations.of(this.instance).acknowledge({
      id: 'AwsSolutions-RDS3',
      reason: 'Multi-AZ doubles the instance cost; it is the multiAz prop (context "multiAz"), off by default for small deployments.',
    });
    Validations.of(this.instance).acknowledge({
      id: 'AwsSolutions-RDS11',
      reason: 'The standard port 5432 is reachable only from the functions\' security groups in isolated subnets; a non-standard port adds no protection there.',
    });
    Validations.of(this.instance).acknowledge({
      id: 'AwsSolutions-RDS6',
      reason: 'Functions authenticate with the rotated Secrets Manager credentials through RDS Proxy (TLS required), not IAM database auth.',
    });
  }

  /**
   * Rotation by the Secrets Manager rotation function (from the Serverless Application
   * Repository). It must reach both the database and Secrets Manager's API. By default CDK puts
   * it beside the database, in the isolated subnets, where nothing leads to Secrets Manager: it
   * would time out at each rotation. Here it runs in the functions' subnets, whose NAT already
   * carries the other functions' Secrets Manager calls (an interface endpoint would cost about
   * $7.30 per zone a month for this one monthly call), and the database admits its security group.
   */
  private addRotation(props: DatabaseProps): void {
    const rotation = this.instance.addRotationSingleUser({
      automaticallyAfter: Duration.days(props.rotationDays ?? 30),
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    });
    this.keepRotationLogs(rotation, 'RotationLogs', props);
  }

  /**
   * A generated secret for an application role, attached to the instance and rotated
   * single-user: the rotation function logs in as the role and changes its own password. The
   * user name never changes, and it must not: RDS Proxy admits only the user named in a
   * secret's current version (aws-cdk#25568), so alternating users (multi-user rotation) would
   * leave functions holding the other name refused until their next cold start. New
   * connections in the moment between the password change and the secret's new version are
   * refused once and retried with the new secret (lambdas/shared/database.ts). Rotation waits
   * for its first schedule rather than running at deploy: the role exists only once the
   * migrate function has run.
   */
  private addRoleSecret(role: AppRole, props: DatabaseProps): ISecret {
    const id = role === 'writer' ? 'Writer' : 'Reader';
    const secret = new DatabaseSecret(this, `${id}Secret`, { username: APP_ROLES[role], dbname: this.databaseName }).attach(this.instance);
    const rotation = new SecretRotation(this, `${id}Rotation`, {
      application: SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret,
      target: this.instance,
      vpc: this.instance.vpc,
      automaticallyAfter: Duration.days(props.rotationDays ?? 30),
      rotateImmediatelyOnUpdate: false,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
    });
    this.keepRotationLogs(rotation, `${id}RotationLogs`, props);
    return secret;
  }

  /** A rotation function's log group, made before the function so that it has a retention. */
  private keepRotationLogs(rotation: Construct, id: string, props: DatabaseProps): void {
    // The function lives in a nested stack of AWS's; Lambda would create its log group on first
    // use, with no expiry. This one exists first, with a retention.
    const application = rotation.node.defaultChild as CfnApplication;
    const { functionName } = application.parameters as Record<string, string>;
    const logGroup = new LogGroup(this, id, {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    application.node.addDependency(logGroup);
  }

  /** The secret a function of `role` connects with. */
  secretOf(role: DatabaseRole): ISecret {
    return role === 'owner' ? this.secret : this.roleSecrets[role];
  }

  /**
   * Lets a function connect as `role` (its catalogue binding): network access to the proxy (or
   * instance) on 5432 and read access to that role's secret, no other. The owner (the migrate
   * function) may read the roles' secrets too: it creates the roles with their passwords.
   */
  grantConnect(fn: IConnectable & IGrantable, role: DatabaseRole): void {
    fn.connections.allowTo(this.target, Port.tcp(this.port), 'functions reach the database');
    for (const group of fn.connections.securityGroups) {
      Annotations.of(group).acknowledgeWarning(
        '@aws-cdk/aws-ec2:ipv4IgnoreEgressRule',
        'Functions keep all outbound traffic (SQS, Secrets Manager and the management API through NAT); the database side admits only them.',
      );
    }
    this.secretOf(role).grantRead(fn);
  }

  /** The writer's and the reader's secrets, from which the migration creates their roles. */
  roleSecretsEnvironment(): Record<string, string> {
    return { DATABASE_WRITER_SECRET_ARN: this.roleSecrets.writer.secretArn, DATABASE_READER_SECRET_ARN: this.roleSecrets.reader.secretArn };
  }

  grantReadRoleSecrets(fn: IGrantable): void {
    for (const secret of Object.values(this.roleSecrets)) secret.grantRead(fn);
  }

  /**
   * The variables `lambdas/shared/database.ts` reads, and the CA bundle the connection needs.
   * TLS is verified in full either way. The proxy's certificate chains to an Amazon Root CA,
   * which Node's own root store holds. The instance's is issued by an RDS CA, which it does
   * not: functions that connect to the instance load Lambda's bundle of Amazon CAs (it costs
   * some cold-start time, so only they do).
   */
  connectionEnvironment(role: DatabaseRole): Record<string, string> {
    return {
      DATABASE_HOST: this.endpoint,
      DATABASE_PORT: String(this.port),
      DATABASE_NAME: this.databaseName,
      DATABASE_SECRET_ARN: this.secretOf(role).secretArn,
      DATABASE_SSL: 'verify-full',
      ...(this.proxy ? {} : { NODE_EXTRA_CA_CERTS: LAMBDA_AMAZON_CA_BUNDLE }),
    };
  }
}
