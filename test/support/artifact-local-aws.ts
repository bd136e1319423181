/**
 * The local counterparts of the stack's resources, for the artifact tests: a queue and a
 * connections table on the shared fauxqs and dynalite, a TLS-only PostgreSQL with its schema and
 * the application's roles, the three database secrets (the owner's and the roles', as RDS and
 * CDK write them) behind a Secrets Manager emulation, the user pool behind a Cognito
 * emulation, and a WebSocket gateway whose routes call the functions the caller gives it.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { FunctionName } from '../../lambdas/functions';
import { migrateUp } from '../../lambdas/adapters/migrations';
import { APP_ROLES, ensureLoginRoles } from '../../lambdas/adapters/pg-roles';
import type { LambdaHandler } from '../../local/invoke';
import { startWsGateway, type RunningWsGateway } from '../../local/ws-gateway';
import type { LocalAws } from './artifact-environment';
import { startTlsPostgres, type TlsPostgres } from './artifact-tls-postgres';
import { startCognitoEmulator, type CognitoEmulator } from './aws-emulator-cognito';
import { startSecretsManagerEmulator, type SecretsManagerEmulator } from './aws-emulator-secrets-manager';
import { freshIdempotencyKeysTable, freshLoginAttemptsTable, freshPipelineStateTable, freshQueue, freshTable, sqsClient } from './services';

/** The database the template names (DATABASE_NAME). */
export const TEMPLATE_DATABASE = 'data_handler';

export interface ArtifactAws {
  readonly local: LocalAws;
  readonly postgres: TlsPostgres;
  readonly secrets: SecretsManagerEmulator;
  readonly cognito: CognitoEmulator;
  readonly ws: RunningWsGateway;
  /** A user of the user pool. */
  readonly user: { readonly username: string; readonly password: string };
  stop(): Promise<void>;
}

export interface ArtifactAwsOptions {
  readonly account: string;
  readonly region: string;
  /** What the WebSocket gateway's routes and authorizer call. */
  readonly wsHandlers: Partial<Record<FunctionName, LambdaHandler>>;
}

export async function startArtifactAws(options: ArtifactAwsOptions): Promise<ArtifactAws> {
  const stoppers: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
  };
  try {
    const postgres = await startTlsPostgres();
    stoppers.push(() => postgres.stop());
    await postgres.createDatabase(TEMPLATE_DATABASE);
    // As the migrate function does on the first deploy: the roles with their secrets' passwords, then the schema.
    const passwords = { writer: randomBytes(12).toString('hex'), reader: randomBytes(12).toString('hex') };
    await ensureLoginRoles(postgres.clientConfig('postgres'), [
      { name: APP_ROLES.writer, password: async () => passwords.writer },
      { name: APP_ROLES.reader, password: async () => passwords.reader },
    ]);
    await migrateUp(postgres.clientConfig(TEMPLATE_DATABASE));

    const arn = (name: string) => `arn:aws:secretsmanager:${options.region}:${options.account}:secret:${name}-${randomBytes(3).toString('hex')}`;
    const databaseSecretArns = { owner: arn('ArtifactsDatabaseSecret'), writer: arn('ArtifactsWriterSecret'), reader: arn('ArtifactsReaderSecret') };
    // As RDS writes an instance's generated credentials (CDK adds `masterarn` to the roles').
    const credentials = (username: string, password: string) => ({ engine: 'postgres', host: postgres.host, port: postgres.port, dbname: TEMPLATE_DATABASE, username, password });
    const secrets = await startSecretsManagerEmulator([
      { arn: databaseSecretArns.owner, name: 'ArtifactsDatabaseSecret', value: credentials(postgres.user, postgres.password) },
      { arn: databaseSecretArns.writer, name: 'ArtifactsWriterSecret', value: { ...credentials(APP_ROLES.writer, passwords.writer), masterarn: databaseSecretArns.owner } },
      { arn: databaseSecretArns.reader, name: 'ArtifactsReaderSecret', value: { ...credentials(APP_ROLES.reader, passwords.reader), masterarn: databaseSecretArns.owner } },
    ]);
    stoppers.push(() => secrets.stop());

    const user = { username: 'alice', password: randomBytes(9).toString('base64url') };
    const poolId = `${options.region}_Artifacts`;
    const cognito = await startCognitoEmulator({ poolId, clientId: `client${randomBytes(6).toString('hex')}`, users: [{ ...user, admin: false }] });
    stoppers.push(() => cognito.stop());

    const ws = await startWsGateway({ port: 0, handlers: options.wsHandlers });
    stoppers.push(() => ws.stop());

    const sqs = sqsClient();
    const queue = await freshQueue(sqs);
    const connectionsTable = await freshTable();
    const loginAttemptsTable = await freshLoginAttemptsTable();
    const idempotencyKeysTable = await freshIdempotencyKeysTable();
    const pipelineStateTable = await freshPipelineStateTable();
    return {
      local: {
        account: options.account,
        region: options.region,
        sqsEndpoint: inject('sqsEndpoint'),
        queueUrl: queue.queueUrl,
        deadLetterQueueUrl: queue.dlqUrl,
        pipelineStateTable,
        dynamoEndpoint: inject('dynamoEndpoint'),
        connectionsTable,
        loginAttemptsTable,
        idempotencyKeysTable,
        managementEndpoint: ws.managementEndpoint,
        secretsManagerEndpoint: secrets.endpoint,
        databaseSecretArns,
        database: { host: postgres.host, port: postgres.port },
        cognito: { endpoint: cognito.endpoint, poolId, clientId: cognito.clientId },
        trustedCaFile: postgres.caFile,
      },
      postgres,
      secrets,
      cognito,
      ws,
      user,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
