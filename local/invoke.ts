/**
 * Invoking a handler module the way Lambda does: a context with the remaining time, and a
 * timeout after which the invocation counts as failed.
 */
import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';

export type LambdaHandler<E = unknown, R = unknown> = (event: E, context: Context) => Promise<R>;

export class InvocationTimeoutError extends Error {
  override readonly name = 'InvocationTimeoutError';
}

/** Runs `handler` with a Lambda-like context; rejects when it runs past `timeoutMs`. */
export async function invoke<E, R>(
  handler: LambdaHandler<E, R>,
  event: E,
  options: { functionName: string; timeoutMs: number },
): Promise<R> {
  const deadline = Date.now() + options.timeoutMs;
  const context: Context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${options.functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new InvocationTimeoutError(`${options.functionName} timed out after ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
  });
  try {
    return await Promise.race([handler(event, context), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
