/**
 * How the writer tells an outage from refused data (node-postgres errors by code), and where it
 * sends a visibility change (the queue URL from the event's ARN).
 */
import { describe, expect, it } from 'vitest';
import { dataRefusalOf, isTransientConnectionError } from '../../../lambdas/adapters/pg-errors';
import { queueUrlFromArn } from '../../../lambdas/adapters/sqs-redelivery';

/** An error shaped as node-postgres raises them: the SQLSTATE (or Node's code) in `code`. */
const pgError = (code: string, message = 'failed', extra: Record<string, string> = {}) => Object.assign(new Error(message), { code, ...extra });

describe('database failures', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '08006', '57P01', '57P03', '53300', '28P01'])('counts %s as the database being unreachable', (code) => {
    expect(isTransientConnectionError(pgError(code))).toBe(true);
    expect(dataRefusalOf(pgError(code))).toBeUndefined();
  });

  it('counts a dropped connection and a connect timeout as unreachable, also when wrapped', () => {
    expect(isTransientConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientConnectionError(new Error('outer', { cause: new Error('timeout expired') }))).toBe(true);
  });

  it.each([
    ['23514', 'a CHECK constraint'],
    ['23502', 'a NOT NULL constraint'],
    ['22003', 'a value out of range'],
    ['22007', 'a bad date'],
    ['P0001', 'an exception raised by a trigger'],
  ])('counts SQLSTATE %s (%s) as refused data, with what the server said', (code) => {
    const refusal = dataRefusalOf(pgError(code, 'new row violates check constraint "c"', { detail: 'Failing row contains (…)', constraint: 'c' }));

    expect(refusal).toEqual({ reason: 'new row violates check constraint "c"', sqlstate: code, detail: 'Failing row contains (…)', constraint: 'c' });
    expect(isTransientConnectionError(pgError(code))).toBe(false);
  });

  it.each(['42P01', '3D000', '40001', '57014', '53100', 'XX000'])('counts SQLSTATE %s as neither: not the data\'s fault, not an outage', (code) => {
    expect(dataRefusalOf(pgError(code))).toBeUndefined();
    expect(isTransientConnectionError(pgError(code))).toBe(false);
  });

  it('counts an error without a code as no refusal', () => {
    expect(dataRefusalOf(new TypeError('boom'))).toBeUndefined();
  });
});

describe('the queue URL from an event source ARN', () => {
  it('builds the URL SQS gives that queue, in the standard and the China partitions', () => {
    expect(queueUrlFromArn('arn:aws:sqs:eu-west-1:123456789012:records')).toBe('https://sqs.eu-west-1.amazonaws.com/123456789012/records');
    expect(queueUrlFromArn('arn:aws-cn:sqs:cn-north-1:123456789012:records')).toBe('https://sqs.cn-north-1.amazonaws.com.cn/123456789012/records');
  });

  it('refuses what is not an SQS queue ARN', () => {
    expect(() => queueUrlFromArn('arn:aws:sns:us-east-1:123456789012:topic')).toThrow(/not an SQS queue ARN/);
    expect(() => queueUrlFromArn('records')).toThrow(/not an SQS queue ARN/);
  });
});
