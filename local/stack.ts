/**
 * The whole system on one machine: embedded PostgreSQL, SQS and DynamoDB, the HTTP and
 * WebSocket gateways, the SQS event source and the local identity, in front of the functions
 * of the catalogue. Each function runs its own built bundle, the one that deploys, in
 * execution environments of its own with its exported `handler`; its environment points the
 * SDK at the local services. There is no second wiring of any function here.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { mkdir } from 'node:fs/promises';
import type pg from 'pg';
import type { MessagePort } from 'node:worker_threads';
import { FUNCTION_SPECS } from '../lambdas/functions';
import { bundleFunctions } from './bundles';
import { readCpuUsage, type CpuUsage } from './cpu-usage';
import type { LocalConfig } from './config';
import type { LocalFunctions } from './functions';
import type { LocalIdentity } from './identity';
import { parseOriginList } from './origins';
import type { PlatformHealth } from './restarter';
import { writeRuntimeFiles } from './runtime-files';
import { reservePort, type QueueInfo, type RunningPostgres } from './services';
import type { SqsEventSource } from './sqs-poller';
import {
  functionResources,
  logOf,
  startDatabase,
  startEventSource,
  startFunctions,
  startSchedules,
  startHttp,
  startIdentity,
  startQueueAndTable,
  startWs,
  Stoppers,
} from './stack-steps';
import type { UserStore } from './users';
import type { RunningWsGateway } from './ws-gateway';

export { LOCAL_STACK_NAME, OUTPUTS_FILE, QUEUE_DIR, RUNTIME_FILE } from './runtime-files';

export interface LocalStack {
  readonly config: LocalConfig;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** The database as its owner (migrations, tools, tests). */
  readonly databaseUrl: string;
  /** What the writer and the readers connect with: their roles, or the owner when those cannot be used. */
  readonly functionDatabaseUrls: { readonly writer: string; readonly reader: string };
  readonly queue: QueueInfo;
  readonly sqsEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly tableName: string;
  readonly identity: LocalIdentity;
  /** Who may log in: DATA_DIR/users.json (`npm run users`); `seeded` when this start made it, with the env user. */
  readonly users: { readonly store: UserStore; readonly seeded: boolean };
  readonly eventSource: SqsEventSource;
  /** The functions' execution environments. */
  readonly functions: LocalFunctions;
  readonly ws: RunningWsGateway;
  /** A client for the embedded queue (tests and tools). */
  readonly sqs: SQSClient;
  readonly pool: pg.Pool;
  /** The embedded PostgreSQL, supervised (undefined with DATABASE_URL). */
  readonly postgres: RunningPostgres | undefined;
  /** The platform's own state, as GET /health reports it before the health function runs. */
  health(): PlatformHealth;
  /** Where this process's CPU went so far, by part (cpu-usage.ts). */
  cpuUsage(): Promise<CpuUsage>;
  /**
   * Stops everything: no new connections, every request in flight answered, then the queue
   * drains for a while (what is left stays in the durable queue for the next start), then the rest.
   */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Progress lines for the console. */
  readonly log?: (line: string) => void;
  /** How long a stop lets the writer empty the queue; what is left stays queued (durably) for the next start. */
  readonly drainTimeoutMs?: number;
  /** How long a stop waits for HTTP requests in flight. @default the integration timeout plus 5 s */
  readonly httpDrainTimeoutMs?: number;
  /** The WebSocket idle timeout (API Gateway: 10 minutes). */
  readonly wsIdleTimeoutMs?: number;
  /** What a monitor may hold unread before posts to it are refused. @default WEBSOCKET_LIMITS.sendBufferBytes */
  readonly wsSendBufferBytes?: number;
  /** Where the functions' log lines go, each prefixed with its function's name. @default stdout */
  readonly functionOutput?: (line: string) => void;
}

/** Starts the local stack. On failure, whatever had started is stopped again. */
export async function startLocalStack(config: LocalConfig, options: StartOptions = {}): Promise<LocalStack> {
  const log = logOf(options);
  const stoppers = new Stoppers(log);
  try {
    // The functions' bundles build while the services start.
    const bundling = bundleFunctions(FUNCTION_SPECS);
    bundling.catch(() => undefined);

    // State: a folder of our own, private unless it exists already (its mode is then the user's).
    await mkdir(config.DATA_DIR, { recursive: true, mode: 0o700 });
    const { databaseUrl, postgres, pool, passwords } = await startDatabase(config, log, stoppers);
    const { compose, queue, table, sqs } = await startQueueAndTable(config, log, stoppers);

    // Free ports are held until their gateway listens: the functions are given the URLs first.
    const httpHeld = config.PORT ? undefined : await reservePort();
    const wsHeld = config.WS_PORT ? undefined : await reservePort();
    for (const held of [httpHeld, wsHeld]) if (held) stoppers.add('held port', held.release);
    const httpPort = config.PORT || httpHeld!.port;
    const wsPort = config.WS_PORT || wsHeld!.port;
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const { users, usersSeeded, identity, verifier } = await startIdentity(config, httpUrl);
    // The writer's environments post to the WebSocket gateway over a channel once it runs.
    let postChannel: (() => MessagePort) | undefined;
    const services = { ...(await functionResources(config, queue.info, table.info, httpUrl, wsPort)), postChannel: () => postChannel?.() };
    const bundles = await bundling;
    if (bundles.built) log('functions bundled');
    const { functions, functionDatabaseUrls } = await startFunctions(config, options, bundles, services, databaseUrl, passwords, stoppers);
    await startSchedules(config, options, functions, stoppers);

    const corsAllowOrigins = parseOriginList(config.CORS_ALLOW_ORIGINS);
    await wsHeld?.release();
    const ws = await startWs(config, options, { wsPort, httpUrl, corsAllowOrigins, functions }, stoppers);
    postChannel = ws.postChannel;
    const eventSource = await startEventSource(config, options, { compose, queue: queue.info, sqs, functions }, stoppers);

    // The first part that is down names the reason; /health answers 503 with it.
    const health = (): PlatformHealth => [postgres?.health(), queue.health?.()].find((h) => h && h.status !== 'ok') ?? { status: 'ok' };
    await httpHeld?.release();
    const http = await startHttp(config, options, { httpPort, httpUrl, corsAllowOrigins, functions, identity, verifier, ws, health }, stoppers);

    // Local-only credentials: `npm run dlq` reads the reasons the writer noted, so it gets the
    // writer's URL, the least role that may read them.
    const removeFiles = await writeRuntimeFiles(config.DATA_DIR, {
      httpUrl: http.url,
      wsUrl: ws.url,
      clientId: config.JWT_AUDIENCE,
      queue: queue.info,
      databaseUrl: functionDatabaseUrls.writer,
      ...(postgres ? { postgresDataDir: postgres.info.dataDir } : {}),
    });
    stoppers.add('runtime files', removeFiles);

    let stopping: Promise<void> | undefined;
    return {
      config,
      httpUrl: http.url,
      wsUrl: ws.url,
      databaseUrl,
      functionDatabaseUrls,
      queue: queue.info,
      sqsEndpoint: queue.info.endpoint,
      dynamoEndpoint: table.info.endpoint,
      tableName: table.info.tableName,
      identity,
      users: { store: users, seeded: usersSeeded },
      eventSource,
      functions,
      ws,
      sqs,
      pool,
      postgres,
      health,
      cpuUsage: () => readCpuUsage({ ...(queue.cpuMs ? { queueThreadMs: queue.cpuMs } : {}), functionsMs: () => functions.cpuMs() }),
      stop: () => (stopping ??= stoppers.stopAll()),
    };
  } catch (error) {
    await stoppers.stopAll();
    throw error;
  }
}
