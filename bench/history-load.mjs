// The history benchmark's loader, in a worker thread of its own (bench/history.ts): it makes
// the COPY text of millions of records and streams it to PostgreSQL, so that its garbage stays
// in its own heap and not in the one whose query timings the benchmark prints.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { v7 as uuidv7 } from 'uuid';

const { databaseUrl, count, fromMs, spanMs, users } = workerData;
const accepted = new Date().toISOString();

function* rows() {
  const step = spanMs / count;
  for (let i = 0; i < count; i += 10_000) {
    let chunk = '';
    for (let j = i; j < Math.min(count, i + 10_000); j++) {
      chunk += `${uuidv7()}\tuser-${j % users}\t${(j * 7919) % 100_000}\t${new Date(fromMs + Math.floor(j * step)).toISOString()}\t${accepted}\n`;
    }
    yield chunk;
  }
}

const client = new pg.Client({ connectionString: databaseUrl });
await client.connect();
try {
  // No trigger: the benchmark builds the rollups after, in one statement each.
  await client.query("BEGIN; SET LOCAL session_replication_role = 'replica'");
  await pipeline(Readable.from(rows()), client.query(copyFrom('COPY records (id, user_id, data, date, accepted_at) FROM STDIN')));
  await client.query('COMMIT');
} finally {
  await client.end();
}
parentPort.postMessage('done');
