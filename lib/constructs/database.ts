import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { InstanceClass, InstanceSize, InstanceType, Port, SecurityGroup, SubnetType, type IConnectable, type IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  Credentials,
  DatabaseInstance,
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
  /** Days between automatic password rotations. @default 30 */
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

/**
 * PostgreSQL 17 on RDS: encrypted, in isolated subnets, TLS enforced (`rds.force_ssl`), its
 * credentials generated into Secrets Manager and rotated, backed up, and by default behind an
 * RDS Proxy that requires TLS. The proxy's name is unique to the stack (the feature flag
 * `@aws-cdk/aws-rds:databaseProxyUniqueResourceName` in cdk.json); without it every stack's
 * proxy would be named `Proxy`, and a second stack in the region could not be deployed.
 */
export class Database extends Construct {
  public readonly instance: DatabaseInstance;
  public readonly secret: ISecret;
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

    if (props.useProxy ?? true) {
      this.proxy = new DatabaseProxy(this, 'Proxy', {
        proxyTarget: ProxyTarget.fromInstance(this.instance),
        secrets: [this.secret],
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
    // The function lives in a nested stack of AWS's; Lambda would create its log group on first
    // use, with no expiry. This one exists first, with a retention.
    const application = rotation.node.defaultChild as CfnApplication;
    const { functionName } = application.parameters as Record<string, string>;
    const logGroup = new LogGroup(this, 'RotationLogs', {
      logGroupName: `/aws/lambda/${functionName}`,
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    application.node.addDependency(logGroup);
  }

  /**
   * Lets a function connect: network access to the proxy (or instance) on 5432 and read
   * access to the credentials secret.
   */
  grantConnect(fn: IConnectable & IGrantable): void {
    fn.connections.allowTo(this.target, Port.tcp(this.port), 'functions reach the database');
    for (const group of fn.connections.securityGroups) {
      Annotations.of(group).acknowledgeWarning(
        '@aws-cdk/aws-ec2:ipv4IgnoreEgressRule',
        'Functions keep all outbound traffic (SQS, Secrets Manager and the management API through NAT); the database side admits only them.',
      );
    }
    this.secret.grantRead(fn);
  }

  /**
   * The variables `lambdas/shared/database.ts` reads, and the CA bundle the connection needs.
   * TLS is verified in full either way. The proxy's certificate chains to an Amazon Root CA,
   * which Node's own root store holds. The instance's is issued by an RDS CA, which it does
   * not: functions that connect to the instance load Lambda's bundle of Amazon CAs (it costs
   * some cold-start time, so only they do).
   */
  connectionEnvironment(): Record<string, string> {
    return {
      DATABASE_HOST: this.endpoint,
      DATABASE_PORT: String(this.port),
      DATABASE_NAME: this.databaseName,
      DATABASE_SECRET_ARN: this.secret.secretArn,
      DATABASE_SSL: 'verify-full',
      ...(this.proxy ? {} : { NODE_EXTRA_CA_CERTS: LAMBDA_AMAZON_CA_BUNDLE }),
    };
  }
}
