/**
 * PipelineState on DynamoDB: two items, `last-batch` and `last-failure`, each overwritten by
 * whichever writer invocation finishes last. One put per batch: cheap beside the batch itself.
 */
import { BatchGetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PIPELINE_STATE_TABLE, type LastBatch, type LastFailure, type PipelineState } from '../core/pipeline';

const PIPELINE_STATE_KEY = PIPELINE_STATE_TABLE.partitionKey;

const LAST_BATCH = 'last-batch';
const LAST_FAILURE = 'last-failure';

export class DynamoPipelineState implements PipelineState {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async noteBatch(batch: LastBatch): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { [PIPELINE_STATE_KEY]: LAST_BATCH, ...batch } }));
  }

  async noteFailure(failure: LastFailure): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { [PIPELINE_STATE_KEY]: LAST_FAILURE, ...failure } }));
  }

  async read(): Promise<{ lastBatch: LastBatch | null; lastFailure: LastFailure | null }> {
    const answer = await this.doc.send(
      new BatchGetCommand({
        RequestItems: { [this.tableName]: { Keys: [{ [PIPELINE_STATE_KEY]: LAST_BATCH }, { [PIPELINE_STATE_KEY]: LAST_FAILURE }], ConsistentRead: true } },
      }),
    );
    const items = answer.Responses?.[this.tableName] ?? [];
    const find = (key: string) => {
      const item = items.find((i) => i[PIPELINE_STATE_KEY] === key);
      if (!item) return null;
      const { [PIPELINE_STATE_KEY]: _key, ...rest } = item;
      return rest;
    };
    return { lastBatch: find(LAST_BATCH) as LastBatch | null, lastFailure: find(LAST_FAILURE) as LastFailure | null };
  }
}
