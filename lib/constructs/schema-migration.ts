import { CustomResource, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { migrationsHash, MIGRATIONS_DIR } from '../../lambdas/adapters/migrations';
import { acknowledgeFinding, BASIC_EXECUTION_POLICY, nagRef } from '../nag';
import type { Database } from './database';
import type { FunctionWiring } from './function-wiring';
import type { HandlerFunction } from './handler-function';

export interface SchemaMigrationProps {
  /** Builds the migrate function from the catalogue; it needs the VPC and the database. */
  readonly wiring: FunctionWiring;
  readonly database: Database;
  /** Retention of the provider framework's log. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** The SQL migrations, bundled beside the function. @default the repository's `migrations/` */
  readonly migrationsDir?: string;
}

/**
 * Runs the versioned migrations in `migrations/` (the same ones `npm start` and the tests run)
 * through a custom resource whose function reaches the database like the batch writer does, but
 * as the owner (the master user), and first creates the application roles that are missing
 * from their secrets (lambdas/adapters/pg-roles.ts).
 *
 * The resource's properties are a digest of the migration files and the database endpoint, so
 * it runs when a migration is added or changed (or the database is replaced), and `cdk diff`
 * is empty when nothing changed. It also carries the roles' connection limits, which it sets on
 * each run, so a change of them runs it too. A failure fails the deploy: on the first create the
 * database has no deletion protection yet (see DeletionProtection), so the rollback is clean.
 */
export class SchemaMigration extends Construct {
  public readonly function: HandlerFunction;
  public readonly resource: CustomResource;
  /** What the last run applied: migration names, `none`, or `skipped: …` (see the handler). */
  public readonly applied: string;

  constructor(scope: Construct, id: string, props: SchemaMigrationProps) {
    super(scope, id);
    const dir = props.migrationsDir ?? MIGRATIONS_DIR;
    this.function = props.wiring.function(this, 'migrate', {
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // The SQL files travel beside the bundle (MIGRATIONS_DIR in the catalogue).
        afterBundling: (_inputDir: string, outputDir: string) => [`cp -r "${dir}" "${outputDir}/migrations"`],
      },
    });
    const provider = new Provider(this, 'Provider', {
      onEventHandler: this.function,
      logGroup: new LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
      }),
    });
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
      properties: {
        MigrationsHash: migrationsHash(dir),
        // A replaced database (or a switch to or from the proxy) is migrated too.
        Endpoint: props.database.endpoint,
        ConnectionLimits: JSON.stringify(props.database.connectionLimits),
      },
    });
    // Migrations need the instance, not only its endpoint.
    this.resource.node.addDependency(props.database.instance);
    if (props.database.proxy) this.resource.node.addDependency(props.database.proxy);
    this.applied = this.resource.getAttString('Applied');
  }
}
