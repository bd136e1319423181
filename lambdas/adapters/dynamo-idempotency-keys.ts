/**
 * IdempotencyKeyStore on DynamoDB: one item per (user, key), shared by every execution
 * environment of the ingest function. A conditional put claims a key exactly once under
 * parallel requests; `expiresAt` (epoch seconds) is the table's TTL attribute, so DynamoDB
 * deletes old claims by itself. TTL deletion can lag by days, so an item whose `expiresAt` has
 * passed counts as absent here.
 *
 * Both the (user, key) pair and the records' fingerprint are stored as SHA-256 digests: the
 * table holds neither user ids, keys nor record values.
 *
 * Why not @aws-lambda-powertools/idempotency: it stores and replays the whole response under
 * an INPROGRESS lock, so of 20 parallel requests with one key (which today all answer 202 with
 * the same ids, and store one copy) all but one would fail with "already in progress"; and it
 * finds the key and the payload through JMESPath over the raw event, before the body is parsed
 * and the user is known. Our ids already make a retry harmless: all that is missing is the
 * conflict check, which is this one conditional put.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import { isConditionFailure } from './dynamo-errors';
import { IDEMPOTENCY_KEY_TTL_SECONDS, IDEMPOTENCY_KEYS_TABLE, type Claim, type IdempotencyKeyStore } from '../core/idempotency';

const KEY = IDEMPOTENCY_KEYS_TABLE.partitionKey;
const EXPIRES = IDEMPOTENCY_KEYS_TABLE.timeToLiveAttribute;

export class DynamoIdempotencyKeys implements IdempotencyKeyStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly ttlSeconds: number = IDEMPOTENCY_KEY_TTL_SECONDS,
  ) {}

  async claim(userId: string, key: string, fingerprint: string, nowMs: number): Promise<Claim> {
    const id = keyDigest(userId, key);
    const bodyHash = digest(fingerprint);
    const now = Math.floor(nowMs / 1000);
    // A claim can expire between the put and the get; then the next round claims afresh.
    for (let round = 0; round < 3; round++) {
      try {
        await this.doc.send(new PutCommand({
          TableName: this.tableName,
          Item: { [KEY]: id, bodyHash, [EXPIRES]: now + this.ttlSeconds },
          ConditionExpression: 'attribute_not_exists(#key) OR #expires <= :now',
          ExpressionAttributeNames: { '#key': KEY, '#expires': EXPIRES },
          ExpressionAttributeValues: { ':now': now },
        }));
        return 'first';
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const item = (await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { [KEY]: id }, ConsistentRead: true }))).Item;
      if (item && Number(item[EXPIRES]) > now) return item.bodyHash === bodyHash ? 'retry' : 'conflict';
    }
    throw new Error('idempotency key claim kept expiring under it');
  }
}

function keyDigest(userId: string, key: string): string {
  return digest(JSON.stringify([userId, key]));
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url');
}
