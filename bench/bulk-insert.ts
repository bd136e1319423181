/**
 * Bulk insert: rows a second at batch sizes 100, 1,000 and 10,000 into `records` with its
 * production indexes, each way against the limit, PostgreSQL's own `COPY … FROM STDIN` with no
 * conflict handling (1.00×): the product's `insertBatch` (COPY, or unnest below the crossover),
 * each of its two ways forced, a redelivered batch, and the seed's row-by-row loop.
 */
import type pg from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { from as copyFrom } from 'pg-copy-streams';
import { COPY_MIN_RECORDS, createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
import type { RecordToStore } from '../lambdas/core/ports';
import { recordsToStore } from '../test/fixtures/records';
import { median } from './stats';
import { formatCount, formatFixed, formatRatio, type BenchTable } from './table';

/** How the bulk-insert benchmark is sized. */
export interface BulkInsertOptions {
  /** A freshly migrated database that this benchmark may truncate at will. */
  readonly databaseUrl: string;
  /** For the title. */
  readonly serverVersion?: string;
  /** Records stored per run, at every batch size. @default 20_000 */
  readonly records?: number;
  /** @default [100, 1_000, 10_000] */
  readonly batchSizes?: readonly number[];
  /** @default 3 */
  readonly runs?: number;
}

// The seed stored each record with its own INSERT. RETURNING the same columns as the product
// keeps the comparison fair: both learn which rows were new, which the push step needs.
const INSERT_ONE = `
  INSERT INTO records (id, user_id, data, date, accepted_at)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (date, id) DO NOTHING
  RETURNING id, user_id, data, date, accepted_at, stored_at`;

/** The baseline: one statement per row, one transaction per batch, as the Django loop did. */
async function insertRowByRow(pool: pg.Pool, batch: readonly RecordToStore[]): Promise<number> {
  const client = await pool.connect();
  let inserted = 0;
  try {
    await client.query('BEGIN');
    for (const r of batch) {
      inserted += (await client.query(INSERT_ONE, [r.id, r.user_id, r.data, r.date, r.accepted_at])).rowCount ?? 0;
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
  return inserted;
}

/** The limit: COPY straight in, one transaction per batch, nothing returned, no conflict handling. */
async function rawCopy(pool: pg.Pool, batch: readonly RecordToStore[]): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const text = batch.map((r) => `${r.id}\t${r.user_id}\t${r.data}\t${r.date}\t${r.accepted_at}\n`).join('');
    await pipeline(Readable.from([text]), client.query(copyFrom('COPY records (id, user_id, data, date, accepted_at) FROM STDIN')));
    await client.query('COMMIT');
    return batch.length;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface Variant {
  readonly label: string;
  /** Untimed set-up on the emptied table (the redelivery case loads the rows first). */
  readonly prepare?: (batches: readonly RecordToStore[][]) => Promise<void>;
  /** Stores one batch; resolves with the rows reported as new. */
  readonly store: (batch: readonly RecordToStore[]) => Promise<number>;
  readonly expectNew: (total: number) => number;
}

/** Runs the benchmark and returns its table; throws if any variant stores the wrong rows. */
export async function runBulkInsertBench(options: BulkInsertOptions): Promise<BenchTable> {
  const total = options.records ?? 20_000;
  const sizes = options.batchSizes ?? [100, 1_000, 10_000];
  const runs = options.runs ?? 3;
  const records = recordsToStore(total, { userId: 'bench' });

  // The product's own pool (timestamps as text), used by every variant, so the driver's row
  // parsing costs the same on every side.
  const pool = createPool({ connection: options.databaseUrl, max: 2 });
  const product = new PgRecordStore(pool);
  const copyOnly = new PgRecordStore(pool, { copyMinRecords: 1 });
  const unnestOnly = new PgRecordStore(pool, { copyMinRecords: Infinity });
  const all = (n: number) => n;
  const variants: Variant[] = [
    { label: 'limit: raw COPY, no conflict handling', store: (b) => rawCopy(pool, b), expectNew: all },
    { label: 'product: insertBatch', store: async (b) => (await product.insertBatch(b)).length, expectNew: all },
    { label: '  its COPY way (all rows new)', store: async (b) => (await copyOnly.insertBatch(b)).length, expectNew: all },
    { label: '  its unnest way', store: async (b) => (await unnestOnly.insertBatch(b)).length, expectNew: all },
    {
      label: 'product: insertBatch, redelivered (all duplicates)',
      prepare: async (batches) => {
        for (const b of batches) await rawCopy(pool, b);
      },
      store: async (b) => (await product.insertBatch(b)).length,
      expectNew: () => 0,
    },
    { label: 'baseline: INSERT … ON CONFLICT per row, 1 tx/batch', store: (b) => insertRowByRow(pool, b), expectNew: all },
  ];

  try {
    // Warm-up: connections open, catalogs cached and code compiled before anything is timed.
    for (const v of variants.filter((v) => !v.prepare)) await v.store(recordsToStore(200, { userId: 'warm-up' }));

    const rows: string[][] = [];
    for (const size of sizes) {
      const batches: RecordToStore[][] = [];
      for (let i = 0; i < records.length; i += size) batches.push(records.slice(i, i + size));
      const samples = variants.map(() => [] as number[]);
      // Rounds interleave the variants, so a slow spell on the machine hits all of them alike.
      for (let round = 0; round < runs; round++) {
        for (const [i, variant] of variants.entries()) {
          await pool.query('TRUNCATE records');
          await variant.prepare?.(batches);
          const started = performance.now();
          let inserted = 0;
          for (const batch of batches) inserted += await variant.store(batch);
          samples[i]!.push(performance.now() - started);
          const stored = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n);
          if (inserted !== variant.expectNew(total) || stored !== total) {
            throw new Error(`bulk-insert: "${variant.label}" at ${size} reported ${inserted} new rows and left ${stored}; expected ${variant.expectNew(total)} and ${total}`);
          }
        }
      }
      const medians = samples.map((s) => median(s));
      for (const [i, variant] of variants.entries()) {
        rows.push([
          formatCount(size),
          variant.label,
          formatFixed(medians[i]!, 1),
          formatCount((total / medians[i]!) * 1000),
          formatRatio(medians[0]! / medians[i]!),
        ]);
      }
    }
    return {
      title: `Bulk insert: ${formatCount(total)} records a run into records with its indexes, median of ${runs} runs${options.serverVersion ? ` (${options.serverVersion}, embedded)` : ''}`,
      columns: [
        { header: 'batch' },
        { header: 'variant', align: 'left' },
        { header: 'median ms' },
        { header: 'rows/s' },
        { header: 'vs raw COPY' },
      ],
      rows,
      notes: [
        `insertBatch uses COPY from ${formatCount(COPY_MIN_RECORDS)} records a batch (COPY_MIN_RECORDS) and one unnest statement below; both return the new rows.`,
        'Each run starts from an emptied table (TRUNCATE); the redelivery run reloads the rows untimed first.',
        'Same pool, same records, one commit per batch on every row; "vs raw COPY" is raw COPY ms ÷ variant ms.',
      ],
    };
  } finally {
    await pool.end();
  }
}
