import { CustomResource, Duration, Validations } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledgeFinding, BASIC_EXECUTION_POLICY, nagRef } from '../nag';
import type { Database } from './database';
import { HandlerFunction, type FunctionDefaults } from './handler-function';

export interface SchemaMigrationProps extends FunctionDefaults {
  readonly vpc: IVpc;
  readonly database: Database;
}

/**
 * Runs the versioned migrations in `migrations/` (the same ones `npm start` and the tests run)
 * on every deploy, through a custom resource whose function reaches the database like the
 * batch writer does.
 */
export class SchemaMigration extends Construct {
  public readonly function: HandlerFunction;
  public readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: SchemaMigrationProps) {
    super(scope, id);
    this.function = new HandlerFunction(this, 'Function', {
      ...props,
      name: 'migrate',
      description: 'Applies the versioned schema migrations',
      timeout: Duration.minutes(5),
      vpc: props.vpc,
      environment: { ...props.database.connectionEnvironment(), MIGRATIONS_DIR: '/var/task/migrations' },
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // The SQL files travel beside the bundle.
        afterBundling: (inputDir: string, outputDir: string) => [`cp -r "${inputDir}/migrations" "${outputDir}/migrations"`],
      },
    });
    props.database.grantConnect(this.function);
    const provider = new Provider(this, 'Provider', { onEventHandler: this.function });
    acknowledgeFinding(provider, 'AwsSolutions-IAM4', BASIC_EXECUTION_POLICY,
      'The CDK custom-resource provider framework function uses the AWS Lambda basic execution policy; it only relays events to the migration function.');
    acknowledgeFinding(provider, 'AwsSolutions-IAM5', `Resource::${nagRef(this.function, 'Arn')}:*`,
      'The provider framework may invoke any version of the migration function (its ARN with :*), and nothing else.');
    Validations.of(provider).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'The provider framework function\'s runtime is chosen by the CDK version in use.',
    });
    this.resource = new CustomResource(this, 'Schema', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::DataHandlerSchema',
      // A new value each synth, so every deploy runs the (idempotent) migrations.
      properties: { DeployedAt: new Date().toISOString() },
    });
    // Migrations need the instance, not only its endpoint.
    this.resource.node.addDependency(props.database.instance);
    if (props.database.proxy) this.resource.node.addDependency(props.database.proxy);
  }
}
