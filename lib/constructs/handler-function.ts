import { Duration, RemovalPolicy, Tags, Validations } from 'aws-cdk-lib';
import { Effect, PolicyDocument, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import path from 'node:path';
import { functionSpec, type FunctionName } from '../../lambdas/functions';
import { BUNDLE_SETTINGS, PROJECT_ROOT } from '../bundling';

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
  /** The function's entry in the catalogue (lambdas/functions.ts): module, settings, sizes. */
  readonly name: FunctionName;
  /** @default - the catalogue's description */
  readonly description?: string;
  /** @default - the catalogue's memory size */
  readonly memorySize?: number;
  /** @default - the catalogue's timeout */
  readonly timeout?: Duration;
  /**
   * The bindings' variables (QUEUE_URL, DATABASE_HOST, …), added to the defaults (Powertools
   * settings, source maps) and the catalogue's fixed settings. @default {}
   */
  readonly environment?: Record<string, string>;
  /** Run inside this VPC. @default - not in a VPC */
  readonly vpc?: IVpc;
  /** @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: SubnetSelection;
  /** @default - a new security group */
  readonly securityGroups?: ISecurityGroup[];
  /** Extra bundling steps (copying files beside the bundle). @default - none */
  readonly commandHooks?: ICommandHooks;
  /**
   * Concurrent executions reserved for (and capping) this function. @default - none: the
   * function shares the account's unreserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;
}

/** The tag that names a function's catalogue entry (lambdas/functions.ts) on the deployed function. */
export const FUNCTION_NAME_TAG = 'data-handler:function';

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
    const spec = functionSpec(props.name);
    super(scope, id, {
      role,
      entry: path.join(PROJECT_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? spec.memoryMb,
      timeout: props.timeout ?? Duration.seconds(spec.timeoutSeconds),
      description: props.description ?? spec.description,
      logGroup,
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? 'data-handler',
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? 'DataHandler',
        NODE_OPTIONS: '--enable-source-maps',
        ...spec.settings,
        ...props.environment,
      },
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      securityGroups: props.securityGroups,
      bundling: {
        // lib/bundling.ts: the same settings the local runtime and the artifact tests bundle with.
        format: OutputFormat.ESM,
        target: BUNDLE_SETTINGS.target,
        minify: BUNDLE_SETTINGS.minify,
        sourceMap: BUNDLE_SETTINGS.sourceMap,
        sourcesContent: BUNDLE_SETTINGS.sourcesContent,
        mainFields: [...BUNDLE_SETTINGS.mainFields],
        banner: BUNDLE_SETTINGS.banner,
        externalModules: [...BUNDLE_SETTINGS.externalModules],
        esbuildArgs: Object.fromEntries(Object.entries(BUNDLE_SETTINGS.alias).map(([name, stub]) => [`--alias:${name}`, stub])),
        forceDockerBundling: false,
        commandHooks: props.commandHooks,
      },
    });
    this.logGroupResource = logGroup;
    // Tools and tests find a deployed function's catalogue entry by this tag.
    Tags.of(this).add(FUNCTION_NAME_TAG, props.name, { includeResourceTypes: ['AWS::Lambda::Function'] });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime the project builds and tests against; moving to a newer runtime is a deliberate upgrade.',
    });
  }
}
