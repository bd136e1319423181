import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Effect, PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionName } from '../../lambdas/routes';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Settings every function of the system shares. */
export interface FunctionDefaults {
  /** Log retention of every function's log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to log groups when the stack is deleted. @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** The Powertools service name and metrics namespace. @default 'data-handler' / 'DataHandler' */
  readonly serviceName?: string;
  readonly metricsNamespace?: string;
}

export interface HandlerFunctionProps extends FunctionDefaults {
  /** The handler module: `lambdas/handlers/<name>.ts`, exporting `handler`. */
  readonly name: FunctionName | 'migrate';
  readonly description?: string;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** Added to the defaults (Powertools settings, source maps). @default {} */
  readonly environment?: Record<string, string>;
  /** Run inside this VPC. @default - not in a VPC */
  readonly vpc?: IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: SubnetSelection;
  /** @default - a new security group */
  readonly securityGroups?: ISecurityGroup[];
  /** Extra bundling steps (copying files beside the bundle). @default - none */
  readonly commandHooks?: ICommandHooks;
}

/**
 * One Lambda function of the system with the house defaults: Node.js 22 on arm64, an ESM
 * bundle built by the local esbuild (no Docker), minified with source maps, an explicit log
 * group with retention, and Powertools configuration.
 */
export class HandlerFunction extends NodejsFunction {
  /** The function's log group, with its retention. */
  public readonly logGroupResource: LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    // Our own role instead of AWS's managed execution policies: logs go to this function's
    // log group only.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the ${props.name} function`,
      inlinePolicies: {
        logs: new PolicyDocument({
          statements: [
            new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
          ],
        }),
      },
    });
    if (props.vpc) {
      // Lambda manages the function's network interfaces; these EC2 actions take no resource ARNs.
      role.addToPrincipalPolicy(
        new PolicyStatement({
          effect: Effect.ALLOW,
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups', 'ec2:DescribeVpcs'],
          resources: ['*'],
        }),
      );
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'The EC2 network-interface actions Lambda needs to join the VPC do not support resource-level permissions.',
      });
    }
    super(scope, id, {
      role,
      entry: path.join(ROOT, 'lambdas', 'handlers', `${props.name}.ts`),
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: path.join(ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      description: props.description,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'data-handler',
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'DataHandler',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.securityGroups,
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        mainFields: ['module', 'main'],
        // Some dependencies still call require(); ESM bundles need it defined.
        banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        // The runtime ships SDK v3; pg-native is an optional addon we never load.
        externalModules: ['@aws-sdk/*', 'pg-native'],
        forceDockerBundling: false,
        commandHooks: props.commandHooks,
      },
    });
    this.logGroupResource = logGroup;
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime the project builds and tests against; moving to a newer runtime is a deliberate upgrade.',
    });
  }
}
