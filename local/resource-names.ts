/**
 * The physical names of the resources that `LOCAL_SERVICES=compose npm start` sends to and the
 * LocalStack stack (lib/localstack-stack.ts) deploys: both sides name them from here, so the
 * writer that runs in LocalStack reads the queue that the local ingest fills. Imports nothing,
 * so the CDK app can load it.
 *
 * On AWS, no name is fixed: CloudFormation generates them, or they derive from the stack's name,
 * so that two copies of the stack can share an account and region, and a resource can be
 * replaced (a fixed name blocks both). These exist only for the local paths, where one account
 * and region hold a single copy of the system.
 */
export const LOCAL_RESOURCE_NAMES = {
  /** The record queue. */
  queue: 'records',
  /** Its dead-letter queue: the queue's name with `-dlq`, as provisionQueues derives it. */
  deadLetterQueue: 'records-dlq',
  /** The WebSocket connections table. */
  connectionsTable: 'connections',
  /** The failed-login counters of the login function. */
  loginAttemptsTable: 'login-attempts',
  /** The Idempotency-Keys claimed by uploads. */
  idempotencyKeysTable: 'idempotency-keys',
  /** The batch writer's last batch and failure, for the pipeline status. */
  pipelineStateTable: 'pipeline-state',
} as const;
