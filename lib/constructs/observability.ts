import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { DatabaseInstance } from 'aws-cdk-lib/aws-rds';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { RecordQueue } from './record-queue';

export interface ObservabilityProps {
  readonly queue: RecordQueue;
  readonly writer: IFunction;
  readonly ingest: IFunction;
  /** The scheduled maintenance of the time partitions, for its failures. */
  readonly maintenance: IFunction;
  /** The HTTP API, for its 5xx responses. */
  readonly api: HttpApi;
  /** The database instance, for its CPU, storage and connections. */
  readonly database: DatabaseInstance;
  /** The database's max_connections; the connections alarm fires at 90 % of it. */
  readonly dbMaxConnections: number;
  /** Who is told of alarms, by email (a confirmation mail comes first). @default - nobody yet: subscribe to the topic */
  readonly alarmEmail?: string;
  /** The Powertools metrics namespace and service. @default 'DataHandler' / 'data-handler' */
  readonly metricsNamespace?: string;
  readonly serviceName?: string;
  /** Alarm when the oldest queued message is older than this. @default Duration.minutes(5) */
  readonly maxMessageAge?: Duration;
  /** Alarm when the HTTP API answers this many 5xx in five minutes. @default 5 */
  readonly apiServerErrors?: number;
  /** Alarm when the database has less free storage than this, in GiB. @default 2 */
  readonly minFreeStorageGiB?: number;
}

interface AlarmSpec {
  readonly id: string;
  readonly description: string;
  readonly metric: IMetric;
  readonly threshold: number;
  readonly comparison?: ComparisonOperator;
  readonly periods?: number;
}

/**
 * Alarms on what means records are not getting stored or served (anything in the DLQ, a queue
 * that is falling behind, writer errors, an API answering 5xx, SQS refusing sends, a failed
 * migration, a database short of CPU, storage or connections), all sent to one SNS topic, and a
 * dashboard of the pipeline.
 */
export class Observability extends Construct {
  public readonly dashboard: Dashboard;
  public readonly alarms: Alarm[];
  /** Every alarm (and its return to OK) is published here. */
  public readonly alarmTopic: Topic;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const namespace = props.metricsNamespace ?? 'DataHandler';
    const service = props.serviceName ?? 'data-handler';
    const custom = (metricName: string, statistic = 'Sum') =>
      new Metric({ namespace, metricName, dimensionsMap: { service }, statistic, period: Duration.minutes(1) });
    const { queue, deadLetterQueue } = props.queue;
    const fiveMinutes = { period: Duration.minutes(5) };

    this.alarmTopic = new Topic(this, 'AlarmTopic', { displayName: 'data-handler alarms', enforceSSL: true });
    if (props.alarmEmail) this.alarmTopic.addSubscription(new EmailSubscription(props.alarmEmail));
    Validations.of(this.alarmTopic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason: 'Alarm notifications carry alarm names and states, no data. CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key would cost $1 a month for nothing secret.',
    });

    const specs: AlarmSpec[] = [
      { id: 'DeadLetters', description: 'Messages are in the DLQ: their records were not stored. Inspect the writer logs by message id, fix, then redrive (npm run dlq).',
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), threshold: 0 },
      { id: 'QueueFallingBehind', description: 'The oldest queued message is getting old: the writer is failing or cannot keep up.',
        metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: (props.maxMessageAge ?? Duration.minutes(5)).toSeconds(), periods: 3 },
      { id: 'WriterErrors', description: 'The batch writer failed invocations (whole batches returned to the queue).',
        metric: props.writer.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }), threshold: 0 },
      { id: 'ApiServerErrors', description: 'The HTTP API answered 5xx: a function failed or timed out. See the API access log (JSON) and the function logs.',
        metric: props.api.metricServerError({ ...fiveMinutes, statistic: 'Sum' }), threshold: props.apiServerErrors ?? 5,
        comparison: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD },
      { id: 'QueueUnavailable', description: 'SQS refused sends from the ingest function: uploads were answered 503 and not queued.',
        metric: custom('QueueUnavailable'), threshold: 0 },
      { id: 'MaintenanceErrors', description: 'The partition maintenance failed: partitions are not made ahead or old ones not dropped (rows are still stored, in the catch-all partitions). See the maintain function log.',
        metric: props.maintenance.metricErrors({ period: Duration.hours(1), statistic: 'Sum' }), threshold: 0 },
      { id: 'MigrationFailed', description: 'The schema migration failed during a deploy; the stack output SchemaMigrations says why.',
        metric: custom('MigrationFailed'), threshold: 0 },
      { id: 'DatabaseCpu', description: 'The database CPU has been above 80 % for 15 minutes.',
        metric: props.database.metricCPUUtilization({ ...fiveMinutes, statistic: 'Average' }), threshold: 80, periods: 3 },
      { id: 'DatabaseStorage', description: 'The database is running out of storage (storage autoscaling may have reached its maximum).',
        metric: props.database.metricFreeStorageSpace({ ...fiveMinutes, statistic: 'Minimum' }),
        threshold: (props.minFreeStorageGiB ?? 2) * 1024 ** 3, comparison: ComparisonOperator.LESS_THAN_THRESHOLD },
      { id: 'DatabaseConnections', description: 'The database is near max_connections: new connections will soon be refused.',
        metric: props.database.metricDatabaseConnections({ ...fiveMinutes, statistic: 'Maximum' }), threshold: Math.floor(props.dbMaxConnections * 0.9) },
    ];
    const action = new SnsAction(this.alarmTopic);
    this.alarms = specs.map((spec) => {
      const alarm = new Alarm(this, spec.id, {
        alarmDescription: spec.description,
        metric: spec.metric,
        threshold: spec.threshold,
        comparisonOperator: spec.comparison ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: spec.periods ?? 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      return alarm;
    });
    this.allowAlarmsToPublish();

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.addWidgets(props, custom);
  }

  /**
   * The topic's policy replaces SNS's default one, and with `enforceSSL` it would hold only the
   * TLS Deny: nothing would allow CloudWatch to publish, and every alarm's notification would
   * fail ("…is not authorized to perform: SNS:Publish… because no resource-based policy
   * allows…"). This allows the CloudWatch service to publish for these alarms of this account
   * only (aws:SourceAccount, and aws:SourceArn naming each alarm, against the confused deputy).
   */
  private allowAlarmsToPublish(): void {
    this.alarmTopic.addToResourcePolicy(new PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [this.alarmTopic.topicArn],
      conditions: {
        StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
        ArnLike: { 'aws:SourceArn': this.alarms.map((alarm) => alarm.alarmArn) },
      },
    }));
  }

  private addWidgets(props: ObservabilityProps, custom: (metricName: string, statistic?: string) => Metric): void {
    const { queue, deadLetterQueue } = props.queue;
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Records', left: [custom('RecordsAccepted'), custom('RecordsStored'), custom('DuplicateRecords')], width: 12 }),
      new GraphWidget({
        title: 'Queue',
        left: [queue.metricApproximateNumberOfMessagesVisible(), deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
        right: [queue.metricApproximateAgeOfOldestMessage()],
        width: 12,
      }),
      new GraphWidget({ title: 'Batches', left: [custom('BatchSize', 'Average'), custom('InsertMs', 'p99')], right: [custom('StoreFailures'), custom('MalformedMessages')], width: 12 }),
      new GraphWidget({ title: 'Pushes', left: [custom('PushFailures'), custom('ConnectionsGone')], width: 12 }),
      new GraphWidget({
        title: 'Functions',
        left: [props.ingest.metricInvocations(), props.writer.metricInvocations()],
        right: [props.ingest.metricErrors(), props.writer.metricErrors(), props.writer.metricThrottles()],
        width: 12,
      }),
      new GraphWidget({ title: 'Durations (p99)', left: [props.ingest.metricDuration({ statistic: 'p99' }), props.writer.metricDuration({ statistic: 'p99' })], width: 12 }),
      new GraphWidget({ title: 'API', left: [props.api.metricCount(), props.api.metricServerError(), props.api.metricClientError()], right: [custom('QueueUnavailable')], width: 12 }),
      new GraphWidget({
        title: 'Database',
        left: [props.database.metricCPUUtilization(), props.database.metricDatabaseConnections()],
        right: [props.database.metricFreeStorageSpace()],
        width: 12,
      }),
    );
  }
}
