/**
 * GET /api/pipeline/status (admins only): the record queue's and the DLQ's counts, and the
 * batch writer's last batch and last failure, for the dashboard's health panel.
 */
import { ForbiddenError, ServiceUnavailableError } from '../core/errors';
import { pipelineStatusBody, type PipelineState, type QueueStats } from '../core/pipeline';
import { DynamoPipelineState } from '../adapters/dynamo-pipeline-state';
import { SqsQueueStats } from '../adapters/sqs-queue-stats';
import { documentClient } from '../shared/dynamo-client';
import { deferred, PipelineStatusEnv, readEnv } from '../shared/env';
import { httpHandler, json, principalOf } from '../shared/http';
import { sqsClient } from '../shared/sqs-client';

export interface PipelineStatusDeps {
  readonly queues: QueueStats;
  readonly state: PipelineState;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly now?: () => number;
}

export function makePipelineStatusHandler(deps: PipelineStatusDeps) {
  const now = deps.now ?? Date.now;
  return httpHandler(async (event) => {
    if (!principalOf(event).isAdmin) throw new ForbiddenError('The pipeline status is for admins.');
    let answers;
    try {
      answers = await Promise.all([deps.queues.depth(deps.queueUrl), deps.queues.depth(deps.deadLetterQueueUrl), deps.state.read()]);
    } catch (error) {
      throw new ServiceUnavailableError('The queue or the pipeline state did not answer; retry shortly.', error);
    }
    const [queue, deadLetters, { lastBatch, lastFailure }] = answers;
    return json(200, pipelineStatusBody({ checkedAt: new Date(now()).toISOString(), queue, deadLetters, lastBatch, lastFailure }), { 'cache-control': 'no-store' });
  });
}

/** The Lambda entry point. */
export const handler = deferred(() => {
  const env = readEnv(PipelineStatusEnv);
  return makePipelineStatusHandler({
    queues: new SqsQueueStats(sqsClient),
    state: new DynamoPipelineState(documentClient, env.PIPELINE_STATE_TABLE),
    queueUrl: env.QUEUE_URL,
    deadLetterQueueUrl: env.DEAD_LETTER_QUEUE_URL,
  });
});
