import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_MAX_RECEIVE_COUNT } from '../../lambdas/functions';

export interface RecordQueueProps {
  /** The consumer's timeout; the visibility timeout is six times it, as AWS advises for event sources. */
  readonly consumerTimeout: Duration;
  /** Receives before a message moves to the DLQ. @default QUEUE_MAX_RECEIVE_COUNT (5), which the writer's retry schedule is made for */
  readonly maxReceiveCount?: number;
  /** How long a message may wait in the queue. @default Duration.days(4) */
  readonly retentionPeriod?: Duration;
  /** How long a failed message is kept in the DLQ. @default Duration.days(14) (the SQS maximum) */
  readonly dlqRetentionPeriod?: Duration;
  /** @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The durable buffer between ingest and storage: an SQS queue and its dead-letter queue, both
 * encrypted at rest (SSE-SQS) and reachable over TLS only.
 */
export class RecordQueue extends Construct {
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  /** Receives before a message moves to the DLQ. */
  public readonly maxReceiveCount: number;

  constructor(scope: Construct, id: string, props: RecordQueueProps) {
    super(scope, id);
    this.maxReceiveCount = props.maxReceiveCount ?? QUEUE_MAX_RECEIVE_COUNT;
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: props.dlqRetentionPeriod ?? Duration.days(14),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    this.queue = new Queue(this, 'Records', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(props.consumerTimeout.toSeconds() * 6),
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
      removalPolicy: props.removalPolicy ?? RemovalPolicy.DESTROY,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the dead-letter queue itself; its messages wait here for inspection and redrive.',
    });
  }

  /** Lets `grantee` send messages, and nothing else. */
  grantEnqueue(grantee: IGrantable) {
    return this.queue.grant(grantee, 'sqs:SendMessage');
  }

  /**
   * Lets `grantee` hand messages it was given back with a delay (ChangeMessageVisibility, and
   * its batch form, which IAM authorizes by the same action), on the record queue only.
   */
  grantDelayRedelivery(grantee: IGrantable) {
    return this.queue.grant(grantee, 'sqs:ChangeMessageVisibility');
  }

  /** Lets `grantee` read both queues' counts (GetQueueAttributes), and nothing else. */
  grantReadCounts(grantee: IGrantable) {
    this.deadLetterQueue.grant(grantee, 'sqs:GetQueueAttributes');
    return this.queue.grant(grantee, 'sqs:GetQueueAttributes');
  }

  /** The variables of the `read-pipeline-status` binding that name the queues. */
  countsEnvironment(): Record<string, string> {
    return { QUEUE_URL: this.queue.queueUrl, DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl };
  }
}
