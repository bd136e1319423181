/**
 * The embedded queue keeps its messages on disk; a clean stop must not lose what it holds.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localConfigFromEnv } from '../../local/config';
import { startLocalStack } from '../../local/stack';
import { freshDatabase } from '../support/services';
import { login, waitFor } from '../support/stack';

describe('stopping and starting the local stack', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('keeps accepted records that were still queued at the stop, and stores them after the next start', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'dh-restart-'));
    dirs.push(dataDir);
    // The stopped event source leaves nothing in flight (test/integration/local-sqs-poller-stop.test.ts);
    // the short visibility timeout only keeps a message that something else left in flight from costing 30 s here.
    const config = localConfigFromEnv({ PORT: '0', WS_PORT: '0', DATA_DIR: dataDir, DATABASE_URL: await freshDatabase(), BATCH_WINDOW_MS: '100', QUEUE_VISIBILITY_TIMEOUT_S: '5', WRITER_TIMEOUT_MS: '5000' });

    const first = await startLocalStack(config, { drainTimeoutMs: 500 });
    await first.eventSource.stop(); // as if the writer could not keep up: the records stay queued
    const token = await login(first.httpUrl);
    const response = await fetch(`${first.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ records: [1, 2, 3].map((data) => ({ data, date: '2024-08-01T00:00:00Z' })) }),
    });
    const { ids } = (await response.json()) as { ids: string[] };
    await first.stop();
    expect(await readdir(dataDir)).toContain('queue');

    const second = await startLocalStack(config, { drainTimeoutMs: 2_000 });
    try {
      await waitFor(async () => {
        const { rows } = await second.pool.query('SELECT count(*)::int AS n FROM records WHERE id = ANY($1::uuid[])', [ids]);
        return rows[0].n === 3;
      }, 20_000);
    } finally {
      await second.stop();
    }
  });
});
