/**
 * The pre-flight's AWS reads (bin/preflight.ts judges them): the account's Lambda concurrency
 * quota, and the reservations a deployed stack's functions hold now. Every call has a deadline.
 */
import { CloudFormationClient, paginateListStackResources } from '@aws-sdk/client-cloudformation';
import { GetAccountSettingsCommand, GetFunctionConcurrencyCommand, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';

/** GetAccountSettings' AccountLimit: the quota, and what no function has reserved of it. */
export interface AccountConcurrency {
  readonly quota: number;
  readonly unreserved: number;
}

/** The two clients the reads need. */
export interface PreflightClients {
  readonly lambda: LambdaClient;
  readonly cloudFormation: CloudFormationClient;
}

/** How to build the clients: the default provider chain unless told otherwise. */
export interface PreflightClientOptions {
  readonly region?: string;
  /** `cdk deploy --profile`'s, so both read the same account. */
  readonly profile?: string;
  /** Connection and request deadline of each call. @default 5000 */
  readonly timeoutMs?: number;
  /** For tests; otherwise the SDK's (AWS_ENDPOINT_URL_LAMBDA, …, or the region's). */
  readonly endpoints?: { readonly lambda?: string; readonly cloudFormation?: string };
  readonly credentials?: LambdaClientConfig['credentials'];
}

/** Clients whose every call has a deadline and few attempts: the check must not hold the deploy. */
export function preflightClients(options: PreflightClientOptions = {}): PreflightClients {
  const timeout = options.timeoutMs ?? 5_000;
  const common = {
    maxAttempts: 2,
    requestHandler: { connectionTimeout: timeout, requestTimeout: timeout, throwOnRequestTimeout: true },
    // Only what is set: an explicit `undefined` is not always read as "the default".
    ...(options.region ? { region: options.region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
  const { lambda, cloudFormation } = options.endpoints ?? {};
  return {
    lambda: new LambdaClient({ ...common, ...(lambda ? { endpoint: lambda } : {}) }),
    cloudFormation: new CloudFormationClient({ ...common, ...(cloudFormation ? { endpoint: cloudFormation } : {}) }),
  };
}

/** The account's concurrency quota and what is unreserved of it, in the client's region. */
export async function readAccountConcurrency(lambda: LambdaClient): Promise<AccountConcurrency> {
  const { AccountLimit: limit } = await lambda.send(new GetAccountSettingsCommand({}));
  const quota = limit?.ConcurrentExecutions;
  const unreserved = limit?.UnreservedConcurrentExecutions;
  if (quota === undefined || unreserved === undefined) throw new Error('GetAccountSettings answered without AccountLimit.ConcurrentExecutions');
  return { quota, unreserved };
}

/** The reserved concurrency the functions of a deployed stack hold now; 0 for a new stack. */
export async function readHeldReservations(clients: PreflightClients, stackName: string): Promise<number> {
  const functions: string[] = [];
  try {
    for await (const page of paginateListStackResources({ client: clients.cloudFormation }, { StackName: stackName })) {
      for (const r of page.StackResourceSummaries ?? []) {
        if (r.ResourceType === 'AWS::Lambda::Function' && r.PhysicalResourceId && r.ResourceStatus !== 'DELETE_COMPLETE') functions.push(r.PhysicalResourceId);
      }
    }
  } catch (error) {
    if (isMissingStack(error)) return 0;
    throw error;
  }
  const held = await Promise.all(functions.map((name) => reservedConcurrencyOf(clients.lambda, name)));
  return held.reduce((sum, n) => sum + n, 0);
}

function isMissingStack(error: unknown): boolean {
  return error instanceof Error && error.name === 'ValidationError' && /does not exist/.test(error.message);
}

async function reservedConcurrencyOf(lambda: LambdaClient, functionName: string): Promise<number> {
  try {
    const answer = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: functionName }));
    return answer.ReservedConcurrentExecutions ?? 0;
  } catch (error) {
    // Listed by the stack but gone (a failed create, a replacement): it holds nothing.
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return 0;
    throw error;
  }
}
