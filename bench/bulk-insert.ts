/**
 * Bulk insert: how many rows a second `PgRecordStore.insertBatch` stores, against the seed's
 * row-by-row loop, on the same PostgreSQL in the same run.
 */
import type pg from 'pg';
import { performance } from 'node:perf_hooks';
import { createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
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
  /** @default 20_000 */
  readonly records?: number;
  /** @default 1_000 (the event source's BATCH_SIZE) */
  readonly batchSize?: number;
  /** @default 3 */
  readonly runs?: number;
}

// The seed stored each record with its own INSERT. RETURNING the same columns as the product
// keeps the comparison fair: both learn which rows were new, which the push step needs.
const INSERT_ONE = `
  INSERT INTO records (id, user_id, data, date, accepted_at)
  VALUES ($1, $2, $3, $4, $5)
  ON CONFLICT (id) DO NOTHING
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

interface Variant {
  readonly label: string;
  /** Untimed set-up on the emptied table (the redelivery case loads the rows first). */
  readonly prepare?: () => Promise<void>;
  /** Stores every batch; resolves with the rows reported as new. */
  readonly run: () => Promise<number>;
  readonly expectNew: number;
}

/** Runs the benchmark and returns its table; throws if any variant stores the wrong rows. */
export async function runBulkInsertBench(options: BulkInsertOptions): Promise<BenchTable> {
  const total = options.records ?? 20_000;
  const batchSize = options.batchSize ?? 1_000;
  const runs = options.runs ?? 3;
  const records = recordsToStore(total, { userId: 'bench' });
  const batches: RecordToStore[][] = [];
  for (let i = 0; i < records.length; i += batchSize) batches.push(records.slice(i, i + batchSize));

  // The product's own pool (UTC sessions, timestamps as text), used by every variant, so the
  // driver's row parsing costs the same on both sides.
  const pool = createPool({ connection: options.databaseUrl, max: 2 });
  const store = new PgRecordStore(pool);
  const storeAll = async () => {
    let inserted = 0;
    for (const batch of batches) inserted += (await store.insertBatch(batch)).length;
    return inserted;
  };
  const variants: Variant[] = [
    {
      label: 'baseline: INSERT … ON CONFLICT per row, 1 tx/batch',
      run: async () => {
        let inserted = 0;
        for (const batch of batches) inserted += await insertRowByRow(pool, batch);
        return inserted;
      },
      expectNew: total,
    },
    { label: 'product: insertBatch (unnest), new rows', run: storeAll, expectNew: total },
    {
      label: 'product: insertBatch, redelivered (all duplicates)',
      prepare: async () => void (await storeAll()),
      run: storeAll,
      expectNew: 0,
    },
  ];

  try {
    // Warm-up: connections open, catalogs cached and code compiled before anything is timed.
    const warm = recordsToStore(batchSize, { userId: 'warm-up' });
    await insertRowByRow(pool, warm);
    await store.insertBatch(warm);

    const samples = variants.map(() => [] as number[]);
    // Rounds interleave the variants, so a slow spell on the machine hits all of them alike.
    for (let round = 0; round < runs; round++) {
      for (const [i, variant] of variants.entries()) {
        await pool.query('TRUNCATE records');
        await variant.prepare?.();
        const started = performance.now();
        const inserted = await variant.run();
        samples[i]!.push(performance.now() - started);
        const stored = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM records')).rows[0]!.n);
        if (inserted !== variant.expectNew || stored !== total) {
          throw new Error(`bulk-insert: "${variant.label}" reported ${inserted} new rows and left ${stored}; expected ${variant.expectNew} and ${total}`);
        }
      }
    }

    const medians = samples.map((s) => median(s));
    const baselineMs = medians[0]!;
    return {
      title: `Bulk insert: ${formatCount(total)} records in batches of ${formatCount(batchSize)}, median of ${runs} runs${options.serverVersion ? ` (${options.serverVersion}, embedded)` : ''}`,
      columns: [
        { header: 'variant', align: 'left' },
        { header: 'median ms' },
        { header: 'min–max ms' },
        { header: 'rows/s' },
        { header: 'vs baseline' },
      ],
      rows: variants.map((variant, i) => [
        variant.label,
        formatFixed(medians[i]!, 1),
        `${formatFixed(Math.min(...samples[i]!), 0)}–${formatFixed(Math.max(...samples[i]!), 0)}`,
        formatCount((total / medians[i]!) * 1000),
        formatRatio(baselineMs / medians[i]!),
      ]),
      notes: [
        'Each run starts from an emptied table (TRUNCATE); the redelivery run reloads the rows untimed first.',
        'Same pool, same records, same commit count (one per batch) on every row; "vs baseline" is baseline ms ÷ variant ms.',
      ],
    };
  } finally {
    await pool.end();
  }
}
