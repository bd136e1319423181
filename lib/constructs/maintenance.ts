import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import { functionSpec } from '../../lambdas/functions';
import type { FunctionWiring } from './function-wiring';
import type { HandlerFunction } from './handler-function';
import type { SchemaMigration } from './schema-migration';

export interface MaintenanceProps {
  /** Builds the maintenance function from the catalogue; it needs the VPC, the database and the retention settings. */
  readonly wiring: FunctionWiring;
  /** The schema the pass works on: the schedule starts once the migration has run. */
  readonly migration: SchemaMigration;
}

/**
 * The maintenance pass (lambdas/handlers/maintain.ts) on an EventBridge schedule, at the
 * catalogue's rate: it makes the time partitions ahead of time and drops those past the
 * retention. It is the only function besides the migration that connects as the owner. A pass
 * that fails is retried twice by EventBridge; Observability alarms on its errors.
 */
export class Maintenance extends Construct {
  public readonly function: HandlerFunction;
  public readonly rule: Rule;

  constructor(scope: Construct, id: string, props: MaintenanceProps) {
    super(scope, id);
    const trigger = functionSpec('maintain').trigger;
    if (trigger.kind !== 'schedule') throw new Error('Maintenance: the catalogue gives the maintenance function no schedule');
    this.function = props.wiring.function(this, 'maintain');
    this.rule = new Rule(this, 'Schedule', {
      description: 'Runs the time-partition maintenance of data-handler',
      schedule: Schedule.rate(Duration.minutes(trigger.everyMinutes)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(30) })],
    });
    // Before the migration has run there is no partitioned table to keep.
    this.rule.node.addDependency(props.migration.resource);
  }
}
