/**
 * ConnectionRegistry on DynamoDB: one item per connection, `expiresAt` as the TTL attribute.
 * What a connection missed is kept on its item (`missed`, merged, with `missedVersion` for
 * optimistic concurrency between writers), so it stays bounded however often frames fail.
 */
import { DeleteCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mergeMissed, type Missed } from '../core/frames';
import type { Connection, ConnectionRegistry } from '../core/ports';
import { isConditionFailure } from './dynamo-errors';

/**
 * Attempts to merge a miss while other writers change the same item: with n writers at once,
 * each succeeds within n attempts, so this covers far more writers than the event source runs.
 */
const NOTE_ATTEMPTS = 25;

type MissedState = Pick<Connection, 'missed' | 'missedVersion'>;

export class DynamoConnectionRegistry implements ConnectionRegistry {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async add(connection: Connection): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: { ...connection } }));
  }

  async remove(connectionId: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { connectionId } }));
  }

  async list(nowEpochSeconds: number): Promise<Connection[]> {
    const connections: Connection[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      // TTL deletion can lag by hours, so expired items are filtered here as well.
      const page = await this.doc.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':now': nowEpochSeconds },
          ExclusiveStartKey: startKey,
        }),
      );
      connections.push(...((page.Items ?? []) as Connection[]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return connections;
  }

  async noteMissed(connectionId: string, missed: Missed, known?: Connection): Promise<boolean> {
    let state: MissedState | null = known ? { ...pick(known) } : await this.read(connectionId);
    for (let attempt = 1; state; attempt++) {
      const version = state.missedVersion;
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { connectionId },
            UpdateExpression: 'SET missed = :missed, missedVersion = :next',
            // An update never creates the item of a connection that is gone.
            ConditionExpression: version === undefined ? 'attribute_exists(connectionId) AND attribute_not_exists(missedVersion)' : 'missedVersion = :version',
            ExpressionAttributeValues: { ':missed': mergeMissed(state.missed, missed), ':next': (version ?? 0) + 1, ...(version === undefined ? {} : { ':version': version }) },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error) || attempt >= NOTE_ATTEMPTS) throw error;
        // A short random pause spreads writers that collided.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * Math.min(attempt, 5)));
        state = await this.read(connectionId);
      }
    }
    return false;
  }

  async takeMissed(connectionId: string): Promise<Missed | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { connectionId },
          UpdateExpression: 'REMOVE missed SET missedVersion = missedVersion + :one',
          ConditionExpression: 'attribute_exists(missed)',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      return out.Attributes?.missed as Missed | undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  /** The item's missed state, read consistently; null when the connection is gone. */
  private async read(connectionId: string): Promise<MissedState | null> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: { connectionId }, ConsistentRead: true, ProjectionExpression: 'connectionId, missed, missedVersion' }),
    );
    return out.Item ? pick(out.Item as Connection) : null;
  }
}

function pick(c: MissedState): MissedState {
  return { ...(c.missed ? { missed: c.missed } : {}), ...(c.missedVersion !== undefined ? { missedVersion: c.missedVersion } : {}) };
}
