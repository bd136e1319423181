/**
 * The one place where the catalogue's bindings (lambdas/functions.ts) become AWS: for each
 * binding its environment variables, its IAM grant and its network access, binding by binding
 * as local/bindings.ts turns the same bindings into variables that point at the local services.
 * Every construct builds its functions through a FunctionWiring, so no function's environment
 * or grant is written by hand anywhere else.
 */
import type { CfnResource } from 'aws-cdk-lib';
import type { IVpc } from 'aws-cdk-lib/aws-ec2';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { databaseRoleOf, FUNCTION_SPECS, functionSpec, type Binding, type DatabaseRole, type FunctionName, type FunctionSpec, type Trigger } from '../../lambdas/functions';
import { HandlerFunction, type FunctionDefaults, type HandlerFunctionProps } from './handler-function';
import type { IdempotencyKeys } from './idempotency-keys';
import type { Identity } from './identity';
import type { LoginAttempts } from './login-attempts';
import type { PipelineState } from './pipeline-state';
import type { RecordQueue } from './record-queue';
import type { SchemaMigration } from './schema-migration';

/**
 * What the database bindings need of a database: the Database construct on AWS, the compose
 * file's PostgreSQL in the LocalStack stack.
 */
export interface DatabaseTarget {
  /** The variables through which a function connects as `role`. */
  connectionEnvironment(role: DatabaseRole): Record<string, string>;
  /** What a function that connects as `role` is allowed: the role's secret, the network path. */
  grantConnect(fn: HandlerFunction, role: DatabaseRole): void;
  /** The variables through which the owner learns the other roles' passwords, to create them. */
  roleSecretsEnvironment(): Record<string, string>;
  /** Read access to the other roles' secrets. */
  grantReadRoleSecrets(fn: HandlerFunction): void;
  /**
   * Whether the writer and reader roles exist only once the schema migration has run; their
   * functions then wait for it.
   */
  readonly rolesMadeByMigration: boolean;
}

/**
 * What the connections bindings need of the table of open connections: the MonitoringSocket on
 * AWS, the LocalStack stack's table behind the local gateway.
 */
export interface ConnectionsTarget {
  /** The variables of `register-connections` and `unregister-connections`. */
  tableEnvironment(): Record<string, string>;
  /** The variables of `push-to-connections` and `report-missed`. */
  pushEnvironment(): Record<string, string>;
  grantRegister(grantee: IGrantable): unknown;
  grantUnregister(grantee: IGrantable): unknown;
  grantReportMissed(grantee: IGrantable): unknown;
  grantManageConnections(grantee: IGrantable): unknown;
}

/**
 * The AWS resources that bindings point at. A wiring needs only those of the bindings of the
 * functions it builds; a resource made later (the socket's connections) joins with `with`.
 */
export interface BindingResources {
  /**
   * Where the functions the catalogue puts in the VPC (`inVpc`) run; `'none'` in a stack that
   * has no VPC (the LocalStack stack's), where they run outside any.
   */
  readonly vpc?: IVpc | 'none';
  /** `enqueue-records`, `delay-redelivery`, `read-pipeline-status`. */
  readonly queue?: RecordQueue;
  /** `database-owner`, `database-writer`, `database-reader`. */
  readonly database?: DatabaseTarget;
  /**
   * What creates the database's application roles. Functions that connect as the writer or
   * reader role wait for it: on the deploy that introduces a role, they would be refused until
   * it has run.
   */
  readonly migration?: SchemaMigration;
  /** `register-connections`, `unregister-connections`, `push-to-connections`, `report-missed`. */
  readonly connections?: ConnectionsTarget;
  /** `verify-tokens`, `log-in-users`. */
  readonly identity?: Identity;
  /** `count-failed-logins`. */
  readonly loginAttempts?: LoginAttempts;
  /** `claim-idempotency-keys`. */
  readonly idempotencyKeys?: IdempotencyKeys;
  /** `note-pipeline-state`, `read-pipeline-status`. */
  readonly pipelineState?: PipelineState;
  /** `keep-partitions`: the retention settings as variables (RetentionSettings). */
  readonly partitions?: Readonly<Record<string, string>>;
}

/** What a function takes beyond its catalogue entry and its bindings. */
export type FunctionOptions = Pick<HandlerFunctionProps, 'reservedConcurrentExecutions' | 'commandHooks'>;

/**
 * Each function's construct ID, inside the construct that owns it: the stack (the HTTP API's
 * functions), Migration, Monitoring or Writer. The function's logical IDs (its role's and log
 * group's too) derive from it, so a new ID would replace them.
 */
export const FUNCTION_CONSTRUCT_IDS: Readonly<Record<FunctionName, string>> = {
  ingest: 'IngestFunction',
  'records-query': 'RecordsQueryFunction',
  'records-series': 'RecordsSeriesFunction',
  'swing-analyze': 'SwingAnalyzeFunction',
  'pipeline-status': 'PipelineStatusFunction',
  openapi: 'OpenApiFunction',
  'auth-token': 'AuthTokenFunction',
  health: 'HealthFunction',
  'batch-writer': 'Function',
  'ws-authorizer': 'AuthorizerFunction',
  'ws-connect': 'ConnectFunction',
  'ws-disconnect': 'DisconnectFunction',
  'ws-default': 'DefaultFunction',
  migrate: 'Function',
  maintain: 'Function',
};

/** A binding on AWS: its variables, and what the function is allowed once it exists. */
interface WiredBinding {
  readonly variables: Record<string, string>;
  /** The IAM grant and the network access. */
  grant(fn: HandlerFunction): void;
}

const NOTHING_TO_GRANT = () => {};

/**
 * Builds the catalogue's functions with their bindings wired to `resources`, and the shared
 * `defaults` (log retention, Powertools names).
 */
export class FunctionWiring {
  constructor(
    private readonly resources: BindingResources,
    private readonly defaults: FunctionDefaults = {},
  ) {}

  /** This wiring with more resources: those made after it, such as the socket's connections. */
  with(more: BindingResources): FunctionWiring {
    return new FunctionWiring({ ...this.resources, ...more }, this.defaults);
  }

  /**
   * The function `name` in `scope`, under its construct ID (FUNCTION_CONSTRUCT_IDS): its
   * catalogue entry's module, sizes and settings, in the VPC when the catalogue says so, with
   * each binding's variables, grant and network access.
   */
  function(scope: Construct, name: FunctionName, options: FunctionOptions = {}): HandlerFunction {
    const spec = functionSpec(name);
    const bindings = spec.bindings.map((binding) => this.wire(spec, binding));
    const vpc = spec.inVpc ? this.need(spec, 'vpc', 'the catalogue puts it in the VPC') : 'none';
    const fn = new HandlerFunction(scope, FUNCTION_CONSTRUCT_IDS[name], {
      ...this.defaults,
      ...options,
      name,
      ...(vpc === 'none' ? {} : { vpc }),
      environment: Object.assign({}, ...bindings.map((b) => b.variables)),
    });
    for (const binding of bindings) binding.grant(fn);
    return fn;
  }

  /** Every catalogued function that a trigger of `kind` invokes, in catalogue order, by name. */
  functions(scope: Construct, kind: Trigger['kind'], options: (spec: FunctionSpec) => FunctionOptions = () => ({})): Partial<Record<FunctionName, HandlerFunction>> {
    const specs = FUNCTION_SPECS.filter((spec) => spec.trigger.kind === kind);
    return Object.fromEntries(specs.map((spec) => [spec.name, this.function(scope, spec.name, options(spec))]));
  }

  /** One binding on AWS; the cases mirror local/bindings.ts. */
  private wire(spec: FunctionSpec, binding: Binding): WiredBinding {
    const need = <K extends keyof BindingResources>(key: K) => this.need(spec, key, `its ${binding} binding`);
    switch (binding) {
      case 'enqueue-records': {
        const queue = need('queue');
        return { variables: { QUEUE_URL: queue.queue.queueUrl }, grant: (fn) => queue.grantEnqueue(fn) };
      }
      case 'database-owner':
      case 'database-writer':
      case 'database-reader':
        return this.wireDatabase(spec, binding);
      case 'create-database-roles': {
        const database = need('database');
        return { variables: database.roleSecretsEnvironment(), grant: (fn) => database.grantReadRoleSecrets(fn) };
      }
      // Settings only: what the maintenance does is the owner's, through its database binding.
      case 'keep-partitions':
        return { variables: { ...need('partitions') }, grant: NOTHING_TO_GRANT };
      case 'register-connections': {
        const connections = need('connections');
        return { variables: connections.tableEnvironment(), grant: (fn) => connections.grantRegister(fn) };
      }
      case 'unregister-connections': {
        const connections = need('connections');
        return { variables: connections.tableEnvironment(), grant: (fn) => connections.grantUnregister(fn) };
      }
      case 'push-to-connections': {
        const connections = need('connections');
        return { variables: connections.pushEnvironment(), grant: (fn) => connections.grantManageConnections(fn) };
      }
      case 'report-missed': {
        const connections = need('connections');
        return { variables: connections.pushEnvironment(), grant: (fn) => connections.grantReportMissed(fn) };
      }
      // Token checks need no grant: the pool's JWKS is public.
      case 'verify-tokens': {
        const identity = need('identity');
        return { variables: { JWT_ISSUER: identity.issuerUrl, JWT_AUDIENCE: identity.client.userPoolClientId }, grant: NOTHING_TO_GRANT };
      }
      // InitiateAuth with an app client that has no secret is a public call: no IAM grant.
      case 'log-in-users':
        return { variables: { COGNITO_CLIENT_ID: need('identity').client.userPoolClientId }, grant: NOTHING_TO_GRANT };
      case 'count-failed-logins': {
        const attempts = need('loginAttempts');
        return { variables: attempts.environment(), grant: (fn) => attempts.grantCountAttempts(fn) };
      }
      case 'claim-idempotency-keys': {
        const keys = need('idempotencyKeys');
        return { variables: keys.environment(), grant: (fn) => keys.grantClaimKeys(fn) };
      }
      case 'delay-redelivery': {
        // The queue comes with each message (its eventSourceARN). The event source's own grant to
        // consume includes this action too, but the writer calls it itself: it must not depend on that.
        const queue = need('queue');
        return { variables: { QUEUE_MAX_RECEIVE_COUNT: String(queue.maxReceiveCount) }, grant: (fn) => queue.grantDelayRedelivery(fn) };
      }
      case 'note-pipeline-state': {
        const state = need('pipelineState');
        return { variables: state.environment(), grant: (fn) => state.grantNote(fn) };
      }
      case 'read-pipeline-status': {
        const queue = need('queue');
        const state = need('pipelineState');
        return {
          variables: { ...queue.countsEnvironment(), ...state.environment() },
          grant: (fn) => {
            queue.grantReadCounts(fn);
            state.grantRead(fn);
          },
        };
      }
    }
  }

  /**
   * A database binding: the connection variables of its role, read access to that role's secret
   * only, and the network path to the database (its security group admits the function's).
   */
  private wireDatabase(spec: FunctionSpec, binding: 'database-owner' | 'database-writer' | 'database-reader'): WiredBinding {
    const database = this.need(spec, 'database', `its ${binding} binding`);
    const role = databaseRoleOf({ bindings: [binding] })!;
    const migration = role === 'owner' || !database.rolesMadeByMigration ? undefined : this.need(spec, 'migration', `the ${role} role it connects as`);
    return {
      variables: database.connectionEnvironment(role),
      grant: (fn) => {
        database.grantConnect(fn, role);
        // Only the function waits: its security group is what the database admits, and the
        // migration reaches the database through the same rules.
        if (migration) (fn.node.defaultChild as CfnResource).addResourceDependency(migration.resource.node.defaultChild as CfnResource);
      },
    };
  }

  private need<K extends keyof BindingResources>(spec: FunctionSpec, key: K, why: string): NonNullable<BindingResources[K]> {
    const resource = this.resources[key];
    if (!resource) throw new Error(`FunctionWiring: ${spec.name} needs the ${key} for ${why}, and this wiring has none`);
    return resource as NonNullable<BindingResources[K]>;
  }
}
