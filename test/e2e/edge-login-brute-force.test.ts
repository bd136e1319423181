/**
 * A brute-force loop against the local stack's POST /auth/token: the login function's own
 * bundle, counting failures in the DynamoDB table the stack provisions (dynalite), as it does
 * in the AWS table. After five wrong guesses the username is locked, the right password too.
 */
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDocumentClient } from '../../local/services';
import { LOCAL_RESOURCE_NAMES } from '../../local/resource-names';
import { startTestStack } from '../support/stack';

describe('guessing passwords at the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  const login = (password: string) =>
    fetch(`${stack.httpUrl}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'parsa', password }),
    });

  it('answers 401 to five wrong guesses, then 429 with Retry-After, even for the right password', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await login(`guess-${i}`)).status);
    const right = await login('admin');

    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    const doc = localDocumentClient(stack.dynamoEndpoint);
    const counters = await doc.send(new ScanCommand({ TableName: LOCAL_RESOURCE_NAMES.loginAttemptsTable }));
    doc.destroy();
    expect(counters.Items?.length).toBeGreaterThan(0);
  });
});
