import { Annotations, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
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
} from 'aws-cdk-lib/aws-rds';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

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
}

/**
 * PostgreSQL 17 on RDS: encrypted, in isolated subnets, TLS enforced (`rds.force_ssl`), its
 * credentials generated into Secrets Manager and rotated, backed up, and by default behind an
 * RDS Proxy that requires TLS.
 */
export class Database extends Construct {
  public readonly instance: DatabaseInstance;
  public readonly secret: ISecret;
  public readonly proxy?: DatabaseProxy;
  /** The host functions connect to: the proxy's endpoint, or the instance's. */
  public readonly endpoint: string;
  public readonly port = 5432;
  public readonly databaseName: string;
  /** What clients reach over the network (the proxy, or the instance). */
  private readonly target: IConnectable;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? 'data_handler';
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
      maxAllocatedStorage: 200,
      multiAz: props.multiAz ?? false,
      backupRetention: Duration.days(props.backupRetentionDays ?? 7),
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.SNAPSHOT,
      parameterGroup: new ParameterGroup(this, 'Parameters', {
        engine,
        parameters: { 'rds.force_ssl': '1', 'log_min_duration_statement': '1000' },
      }),
      cloudwatchLogsExports: ['postgresql'],
      enablePerformanceInsights: false,
      autoMinorVersionUpgrade: true,
    });
    this.secret = this.instance.secret!;
    this.instance.addRotationSingleUser({ automaticallyAfter: Duration.days(props.rotationDays ?? 30) });

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

  /** The variables `lambdas/shared/database.ts` reads. */
  connectionEnvironment(): Record<string, string> {
    return {
      DATABASE_HOST: this.endpoint,
      DATABASE_PORT: String(this.port),
      DATABASE_NAME: this.databaseName,
      DATABASE_SECRET_ARN: this.secret.secretArn,
      DATABASE_SSL: 'verify-full',
    };
  }
}
