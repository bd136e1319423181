/**
 * LoginAttemptStore on DynamoDB: one item per username or address, shared by every execution
 * environment of the login function. Conditional writes keep the count exact under parallel
 * attempts; `expiresAt` (epoch seconds) closes the window and is the table's TTL attribute, so
 * DynamoDB deletes old counters by itself. TTL deletion can lag by days, so an item whose
 * `expiresAt` has passed counts as absent here.
 *
 * Keys are stored as SHA-256 digests: the table never holds what people typed as usernames.
 */
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { isConditionFailure } from './dynamo-errors';
import { LOGIN_ATTEMPTS_TABLE, type LoginAttemptStore, type LoginLimit, type Taken } from '../core/login-limit';

const KEY = LOGIN_ATTEMPTS_TABLE.partitionKey;
const EXPIRES = LOGIN_ATTEMPTS_TABLE.timeToLiveAttribute;

export class DynamoLoginAttempts implements LoginAttemptStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async take(key: string, limit: LoginLimit, nowMs: number): Promise<Taken> {
    const id = digest(key);
    const now = Math.floor(nowMs / 1000);
    // Two writers can race to open a window; the loser finds the winner's item next time round.
    for (let round = 0; round < 3; round++) {
      if (await this.countInOpenWindow(id, limit, now)) return { allowed: true };
      if (await this.openWindow(id, limit, now)) return { allowed: true };
      const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { [KEY]: id }, ConsistentRead: true }))).Item;
      const expiresAt = Number(item?.[EXPIRES]);
      if (item && expiresAt > now && Number(item.attempts) >= limit.maxFailures) {
        return { allowed: false, retryAfterSeconds: Math.max(expiresAt - now, 1) };
      }
    }
    // Still racing after three rounds: refuse rather than let an attempt through uncounted.
    return { allowed: false, retryAfterSeconds: 1 };
  }

  async giveBack(key: string): Promise<void> {
    await this.conditional(() =>
      this.doc.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY]: digest(key) },
        UpdateExpression: 'ADD attempts :minusOne',
        ConditionExpression: 'attempts > :zero',
        ExpressionAttributeValues: { ':minusOne': -1, ':zero': 0 },
      })),
    );
  }

  async reset(key: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: { [KEY]: digest(key) } }));
  }

  /** One more attempt in a window that is open and below its limit. */
  private countInOpenWindow(id: string, limit: LoginLimit, now: number): Promise<boolean> {
    return this.conditional(() =>
      this.doc.send(new UpdateCommand({
        TableName: this.tableName,
        Key: { [KEY]: id },
        UpdateExpression: 'ADD attempts :one',
        ConditionExpression: 'attribute_exists(#key) AND #expires > :now AND attempts < :max',
        ExpressionAttributeNames: { '#key': KEY, '#expires': EXPIRES },
        ExpressionAttributeValues: { ':one': 1, ':now': now, ':max': limit.maxFailures },
      })),
    );
  }

  /** A new window with this attempt in it, where there is none or the last one has closed. */
  private openWindow(id: string, limit: LoginLimit, now: number): Promise<boolean> {
    return this.conditional(() =>
      this.doc.send(new PutCommand({
        TableName: this.tableName,
        Item: { [KEY]: id, attempts: 1, [EXPIRES]: now + limit.windowSeconds },
        ConditionExpression: 'attribute_not_exists(#key) OR #expires <= :now',
        ExpressionAttributeNames: { '#key': KEY, '#expires': EXPIRES },
        ExpressionAttributeValues: { ':now': now },
      })),
    );
  }

  /** Runs a conditional write: true when it applied, false when its condition did not hold. */
  private async conditional(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}

function digest(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
