import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
  type IAlarmAction,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { RecordQueue } from './record-queue';

export interface ObservabilityProps {
  readonly queue: RecordQueue;
  readonly writer: IFunction;
  readonly ingest: IFunction;
  /** The Powertools metrics namespace and service. @default 'DataHandler' / 'data-handler' */
  readonly metricsNamespace?: string;
  readonly serviceName?: string;
  /** Alarm when the oldest queued message is older than this. @default Duration.minutes(5) */
  readonly maxMessageAge?: Duration;
  /** Where alarms go (an SNS topic, say). @default - alarms only change state */
  readonly alarmAction?: IAlarmAction;
}

/**
 * Alarms on what means records are not getting stored (anything in the DLQ, a queue that is
 * falling behind, writer errors) and a dashboard of the pipeline.
 */
export class Observability extends Construct {
  public readonly dashboard: Dashboard;
  public readonly alarms: Alarm[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const namespace = props.metricsNamespace ?? 'DataHandler';
    const service = props.serviceName ?? 'data-handler';
    const custom = (metricName: string, statistic = 'Sum') =>
      new Metric({ namespace, metricName, dimensionsMap: { service }, statistic, period: Duration.minutes(1) });
    const { queue, deadLetterQueue } = props.queue;

    this.alarms = [
      new Alarm(this, 'DeadLetters', {
        alarmDescription: 'Messages are in the DLQ: their records were not stored. Inspect the writer logs by message id, fix, then redrive.',
        metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'QueueFallingBehind', {
        alarmDescription: 'The oldest queued message is getting old: the writer is failing or cannot keep up.',
        metric: queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
        threshold: (props.maxMessageAge ?? Duration.minutes(5)).toSeconds(),
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, 'WriterErrors', {
        alarmDescription: 'The batch writer failed invocations (whole batches returned to the queue).',
        metric: props.writer.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (props.alarmAction) for (const alarm of this.alarms) alarm.addAlarmAction(props.alarmAction);

    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
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
    );
  }
}
