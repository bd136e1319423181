/**
 * The embedded queue's own thread: fauxqs and its SQLite persistence, started by
 * startDurableQueueThread (durable-queue.ts). SQLite commits synchronously and syncs its log at
 * each commit; in a thread of its own that wait holds up only the queue, not the gateways, the
 * event source and DynamoDB that share the main thread.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { threadCpuMs } from './cpu-usage';
import { startDurableQueue } from './durable-queue';
import { serveChannel } from './queue-channel';

const { dir, port } = workerData as { dir: string; port: number };
const port0 = parentPort!;
try {
  const server = await startDurableQueue({ dir, port });
  port0.on('message', (message: { type: string; port?: MessagePort }) => {
    if (message.type === 'channel' && message.port) return serveChannel(message.port, server.send);
    if (message.type === 'usage') return port0.postMessage({ type: 'usage', cpuMs: threadCpuMs() });
    if (message.type !== 'close') return;
    server.close().then(
      () => port0.postMessage({ type: 'closed' }),
      (error: unknown) => port0.postMessage({ type: 'closed', error: String(error) }),
    );
  });
  port0.postMessage({ type: 'ready', endpoint: server.endpoint });
} catch (error) {
  port0.postMessage({ type: 'failed', error: error instanceof Error ? error.message : String(error) });
}
