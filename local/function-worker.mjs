// One execution environment of one function, as Lambda gives it: a worker thread with its own
// environment variables and module state that imports the function's bundle once (the init
// phase), then runs one invocation at a time. Plain JavaScript, because it loads the built
// bundle, not the TypeScript sources. See function-runtime.ts for the other side.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { channelPoster, ChannelRecordQueue, LOCAL_POST_CHANNEL, LOCAL_RECORD_QUEUE } from './queue-channel-client.mjs';

const { bundle, functionName, memoryMb, queueChannel, postChannel } = workerData;

// The ingest function (lambdas/shared/local-queue.ts) sends its records over this channel to
// the embedded queue when the environment has one (queue-channel.ts).
if (queueChannel) globalThis[LOCAL_RECORD_QUEUE] = (queueUrl, fallback) => new ChannelRecordQueue(queueChannel, queueUrl, fallback);
// The batch writer (lambdas/shared/local-broadcaster.ts) posts its frames over this channel to
// the WebSocket gateway of its CONNECTIONS_ENDPOINT (ws-management.ts).
if (postChannel) {
  const post = channelPoster(postChannel);
  globalThis[LOCAL_POST_CHANNEL] = (endpoint) => (endpoint === process.env.CONNECTIONS_ENDPOINT ? post : undefined);
}

/** This environment's own CPU time so far, in ms: each answer carries it (the stack's usage report). */
function cpuMs() {
  const usage = process.threadCpuUsage?.(); // Node 22.19 and later
  return usage ? (usage.user + usage.system) / 1000 : Number.NaN;
}

/** An error as Lambda reports it: its type and message, and the stack for the local log only. */
function describe(error) {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

// Node reads NODE_EXTRA_CA_CERTS once, when a process starts, as a Lambda environment's does
// (Lambda's RDS CA bundle is loaded that way). A worker thread's own variable comes too late,
// so the environment trusts those certificates itself, for its own thread only, and warns as
// Node does when the file cannot be read.
const extraCa = process.env.NODE_EXTRA_CA_CERTS;
if (extraCa) {
  try {
    tls.setDefaultCACertificates([...tls.getCACertificates('default'), readFileSync(extraCa, 'utf8')]);
  } catch (error) {
    console.error(`Warning: Ignoring extra certs from \`${extraCa}\`, load failed: ${error.message}`);
  }
}

let handler;
try {
  const mod = await import(pathToFileURL(bundle).href);
  handler = mod.handler;
  if (typeof handler !== 'function') {
    const error = new Error(`${functionName}: the bundle does not export a function named "handler"`);
    error.name = 'Runtime.HandlerNotFound';
    throw error;
  }
  parentPort.postMessage({ type: 'ready', cpuMs: cpuMs() });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: describe(error) });
}

parentPort.on('message', async (message) => {
  if (message.type !== 'invoke' || !handler) return;
  const context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION ?? 'us-east-1'}:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: message.requestId ?? randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  try {
    const result = await handler(message.event, context);
    // Lambda hands the caller the JSON of the result: undefined becomes null, a Date a string.
    const json = result === undefined ? null : JSON.parse(JSON.stringify(result));
    parentPort.postMessage({ type: 'result', id: message.id, result: json, cpuMs: cpuMs() });
  } catch (error) {
    parentPort.postMessage({ type: 'error', id: message.id, error: describe(error), cpuMs: cpuMs() });
  }
});
