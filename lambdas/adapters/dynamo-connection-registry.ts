/**
 * ConnectionRegistry on DynamoDB: one item per connection, `expiresAt` as the TTL attribute.
 */
import { DeleteCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Connection, ConnectionRegistry } from '../core/ports';

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
}
