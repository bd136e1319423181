import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
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
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { APP_ROLES, type AppRole } from '../../lambdas/adapters/pg-roles';
import { databaseRoleOf, functionSpec, type DatabaseRole, type FunctionName } from '../../lambdas/functions';
import { acknowledgeFinding, BASIC_EXECUTION_POLICY } from '../nag';

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
  /** @default true */
  readonly deletionProtection?: boolean;
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

/** The database role the catalogue gives function `name` (its database binding); fails when it has none. */
export function databaseRoleFor(name: FunctionName): DatabaseRole {
  const role = databaseRoleOf(functionSpec(name));
  if (!role) throw new Error(`${name} has no database binding in lambdas/functions.ts`);
  return role;
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
export class Database extends Construct {
  public readonly instance: DatabaseInstance;
  /** The master user's secret: the owner's, for the migrations. */
  public readonly secret: ISecret;
  /** The application roles' secrets, rotated between each role and its `_clone`. */
  public readonly roleSecrets: Readonly<Record<AppRole, ISecret>>;
  public readonly proxy?: DatabaseProxy;
  /** The host functions connect to: the proxy's endpoint, or the instance's. */
  public readonly endpoint: string;
  public readonly port = 5432;
  public readonly databaseName: string;
  /** Whether the instance refuses to be deleted (RDS deletion protection). */
  public readonly deletionProtection: boolean;
  /** What clients reach over the network (the proxy, or the instance). */
  private readonly target: IConnectable;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? 'data_handler';
    this.deletionProtection = props.deletionProtection ?? true;
    const engine = DatabaseInstanceEngine.postgres({ version: PostgresEngineVersion.VER_17 });
    this.instance = new DatabaseInstance(this, 'Instance', {
      engine,
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
      deletionProtection: this.deletionProtection,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      parameterGroup: new ParameterGroup(this, 'Parameters', {
        engine,
        parameters: { 'rds.force_ssl': '1', 'log_min_duration_statement': '1000' },
      }),
      cloudwatchLogsExports: ['postgresql'],
      // RDS creates the exported log group itself, with no expiry; CDK sets its retention.
      cloudwatchLogsRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      enablePerformanceInsights: false,
      autoMinorVersionUpgrade: true,
    });
    this.acknowledgeLogRetention();
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

  /** CDK sets the exported log's retention with its own singleton function, one per stack. */
  private acknowledgeLogRetention(): void {
    const singleton = Stack.of(this).node.children.find((c) => c.node.id.startsWith('LogRetention'));
    if (!singleton) return;
    acknowledgeFinding(singleton, 'AwsSolutions-IAM4', BASIC_EXECUTION_POLICY,
      'CDK\'s log-retention function (it sets the retention of the PostgreSQL log group that RDS creates) logs with the AWS Lambda basic execution policy.');
    Validations.of(singleton).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'CDK\'s log-retention function may set the retention of log groups it is told of at deploy time (logs:PutRetentionPolicy, logs:DeleteRetentionPolicy); it runs only as a custom resource of this stack.',
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
   * A generated secret for an application role, attached to the instance, with the master
   * secret as `masterarn`: multi-user rotation logs in as the master user to set the password
   * of the role or of its `_clone` (which it creates, a member of the role, so it has the same
   * grants), and swaps the secret between the two, so the credentials in use stay valid while
   * the other user's password changes. Rotation waits for its first schedule rather than running at
   * deploy: the role exists only once the migrate function has run, and the clone is made from it.
   */
  private addRoleSecret(role: AppRole, props: DatabaseProps): ISecret {
    const id = role === 'writer' ? 'Writer' : 'Reader';
    const secret = new DatabaseSecret(this, `${id}Secret`, {
      username: APP_ROLES[role],
      dbname: this.databaseName,
      masterSecret: this.secret,
    }).attach(this.instance);
    const rotation = this.instance.addRotationMultiUser(`${id}Rotation`, {
      secret,
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
    if (role === 'owner') for (const secret of Object.values(this.roleSecrets)) secret.grantRead(fn);
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
      // Only the owner creates the roles, from their secrets (never from passwords in variables).
      ...(role === 'owner'
        ? { DATABASE_WRITER_SECRET_ARN: this.roleSecrets.writer.secretArn, DATABASE_READER_SECRET_ARN: this.roleSecrets.reader.secretArn }
        : {}),
      DATABASE_SSL: 'verify-full',
      ...(this.proxy ? {} : { NODE_EXTRA_CA_CERTS: LAMBDA_AMAZON_CA_BUNDLE }),
    };
  }
}
