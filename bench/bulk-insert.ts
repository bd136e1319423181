/**
 * Bulk insert: rows a second at batch sizes 100, 1,000 and 10,000 into `records`, partitioned
 * by day with its production indexes, its records dated over the partitions made ahead, each
 * way against the limit, PostgreSQL's own `COPY … FROM STDIN` into the same partitioned table
 * with no conflict handling and no rollup upkeep (1.00×): the product's `insertBatch` (COPY, or
 * unnest below the crossover, the rollups kept by their trigger), each of its two ways forced,
 * the product with its rollup trigger off, a redelivered batch, the seed's row-by-row loop, and
 * raw COPY into the table as it was before it was partitioned (one table, keyed on id, four
 * indexes). The records carry canonical timestamps, as the queue delivers them.
 */
import type pg from 'pg';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { performance } from 'node:perf_hooks';
import { from as copyFrom } from 'pg-copy-streams';
import { maintainPartitions, RECORDS_TABLE } from '../lambdas/adapters/pg-partitions';
import { COPY_MIN_RECORDS, createPool, PgRecordStore } from '../lambdas/adapters/pg-record-store';
import { DAY_MS, gridFloor } from '../lambdas/core/partitions';
import { canonicalTimestamp } from '../lambdas/core/timestamp';
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
  /** Records stored per run, at every batch size. @default 50_000 */
  readonly records?: number;
  /** @default [100, 1_000, 10_000] */
  readonly batchSizes?: readonly number[];
  /** @default 5 */
  readonly runs?: number;
  /** How the records fall in time. @default SHAPES: one a minute, and 100 a second */
  readonly shapes?: readonly { readonly label: string; readonly spacingMs: number }[];
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

/** `url` with a server option for its sessions (`-c name=value`). */
function withOptions(url: string, option: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', option);
  return parsed.toString();
}

/** The limit: COPY straight in, one transaction per batch, nothing returned, no conflict handling. */
async function rawCopy(pool: pg.Pool, batch: readonly RecordToStore[], table = 'records'): Promise<number> {
  const client = await pool.connect();
  try {
    // No triggers: the rollup upkeep is what the limit leaves out (the bench's user is the superuser).
    await client.query("BEGIN; SET LOCAL session_replication_role = 'replica'");
    const text = batch.map((r) => `${r.id}\t${r.user_id}\t${r.data}\t${r.date}\t${r.accepted_at}\n`).join('');
    await pipeline(Readable.from([text]), client.query(copyFrom(`COPY ${table} (id, user_id, data, date, accepted_at) FROM STDIN`)));
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
  /** Where it stores. @default 'records' */
  readonly table?: string;
  /** Stores only the batches of the run's first this many records; its time is scaled to the whole run. */
  readonly sample?: number;
}

/** The records the row-by-row baseline is timed over, each run. */
const ROW_BY_ROW_RECORDS = 2_000;

/** The table as it was before it was partitioned (migrations up to 1765238400000), to compare with. */
const UNPARTITIONED = `
  CREATE TABLE IF NOT EXISTS records_unpartitioned (
    id uuid PRIMARY KEY, user_id text NOT NULL, data integer NOT NULL, date timestamptz NOT NULL,
    accepted_at timestamptz NOT NULL, stored_at timestamptz NOT NULL DEFAULT now());
  CREATE INDEX IF NOT EXISTS records_unpartitioned_date_id_idx ON records_unpartitioned (date, id);
  CREATE INDEX IF NOT EXISTS records_unpartitioned_user_id_date_id_idx ON records_unpartitioned (user_id, date, id);
  CREATE INDEX IF NOT EXISTS records_unpartitioned_stored_at_id_idx ON records_unpartitioned (stored_at, id);`;

/** Day partitions over the records' dates (from today on), as the maintenance pass makes them. */
async function partitionsAhead(pool: pg.Pool, days: number): Promise<void> {
  const client = await pool.connect();
  try {
    await maintainPartitions(client, [{ spec: RECORDS_TABLE, settings: { sizeMs: DAY_MS, ahead: days } }], Date.now());
  } finally {
    client.release();
  }
}

/**
 * How the records fall in time, which decides the rollups' share of the work: one a minute is
 * the worst case (a rollup row for every record); telemetry at 100 a second fills a rollup row
 * with 6,000.
 */
const SHAPES = [
  { label: 'one a minute', spacingMs: 60_000 },
  { label: '100 a second', spacingMs: 10 },
] as const;

/** Runs the benchmark and returns its table; throws if any variant stores the wrong rows. */
export async function runBulkInsertBench(options: BulkInsertOptions): Promise<BenchTable> {
  const total = options.records ?? 50_000;
  const sizes = options.batchSizes ?? [100, 1_000, 10_000];
  const runs = options.runs ?? 5;
  const shapes = options.shapes ?? SHAPES;

  // The product's own pool (timestamps as text), used by every variant, so the driver's row
  // parsing costs the same on every side.
  const pool = createPool({ connection: options.databaseUrl, max: 2 });
  await partitionsAhead(pool, Math.ceil(total / 1440) + 1);
  const today = new Date(gridFloor(Date.now(), DAY_MS)).toISOString();
  await pool.query(UNPARTITIONED);
  const product = new PgRecordStore(pool);
  const copyOnly = new PgRecordStore(pool, { copyMinRecords: 1 });
  // The product with its rollup trigger off for the session (the bench's user is the superuser):
  // what the rollups' upkeep costs is the gap between the two.
  const triggerOff = createPool({ connection: withOptions(options.databaseUrl, '-c session_replication_role=replica'), max: 2 });
  const noRollups = new PgRecordStore(triggerOff);
  const unnestOnly = new PgRecordStore(pool, { copyMinRecords: Infinity });
  const all = (n: number) => n;
  const variants: Variant[] = [
    { label: 'limit: raw COPY, no conflict handling, no rollups', store: (b) => rawCopy(pool, b), expectNew: all },
    { label: 'product: insertBatch', store: async (b) => (await product.insertBatch(b)).length, expectNew: all },
    { label: '  without the rollups (trigger off)', store: async (b) => (await noRollups.insertBatch(b)).length, expectNew: all },
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
    // A hundred times slower than the rest: timed over the first ROW_BY_ROW_RECORDS records only.
    { label: 'baseline: INSERT … ON CONFLICT per row, 1 tx/batch', store: (b) => insertRowByRow(pool, b), expectNew: all, sample: ROW_BY_ROW_RECORDS },
    { label: 'unpartitioned table: raw COPY', store: (b) => rawCopy(pool, b, 'records_unpartitioned'), expectNew: all, table: 'records_unpartitioned' },
  ];

  try {
    // Warm-up: connections open, catalogs cached and code compiled before anything is timed.
    for (const v of variants.filter((v) => !v.prepare)) await v.store(recordsToStore(200, { userId: 'warm-up', start: today }));

    const rows: string[][] = [];
    // From the start of today, over the day partitions made ahead above.
    for (const shape of shapes) for (const size of sizes) {
      // Canonical timestamps, as the queue delivers them (the ingest function re-spells them).
      const records = recordsToStore(total, { userId: 'bench', start: today, spacingMs: shape.spacingMs }).map((r) => ({ ...r, date: canonicalTimestamp(r.date), accepted_at: canonicalTimestamp(r.accepted_at) }));
      const batches: RecordToStore[][] = [];
      for (let i = 0; i < records.length; i += size) batches.push(records.slice(i, i + size));
      const samples = variants.map(() => [] as number[]);
      // Rounds interleave the variants, so a slow spell on the machine hits all of them alike.
      for (let round = 0; round < runs; round++) {
        for (const [i, variant] of variants.entries()) {
          await pool.query('TRUNCATE records, record_rollups, record_rollups_hourly, record_rollups_daily, records_unpartitioned');
          const timed = variant.sample ? batches.slice(0, Math.max(1, Math.ceil(variant.sample / size))) : batches;
          const count = timed.reduce((n, b) => n + b.length, 0);
          await variant.prepare?.(timed);
          const started = performance.now();
          let inserted = 0;
          for (const batch of timed) inserted += await variant.store(batch);
          samples[i]!.push(((performance.now() - started) * total) / count);
          const stored = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${variant.table ?? 'records'}`)).rows[0]!.n);
          if (inserted !== variant.expectNew(count) || stored !== count) {
            throw new Error(`bulk-insert: "${variant.label}" at ${size} reported ${inserted} new rows and left ${stored}; expected ${variant.expectNew(count)} and ${count}`);
          }
        }
      }
      const medians = samples.map((s) => median(s));
      for (const [i, variant] of variants.entries()) {
        rows.push([
          shape.label,
          formatCount(size),
          variant.label,
          formatFixed(medians[i]!, 1),
          formatCount((total / medians[i]!) * 1000),
          formatRatio(medians[0]! / medians[i]!),
        ]);
      }
    }
    return {
      title: `Bulk insert: ${formatCount(total)} records a run into records (day partitions) with its indexes, median of ${runs} runs${options.serverVersion ? ` (${options.serverVersion}, embedded)` : ''}`,
      columns: [
        { header: 'records of one user', align: 'left' },
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
        `The row-by-row baseline is timed over the first ${formatCount(ROW_BY_ROW_RECORDS)} records of each run (a whole batch at least), its time scaled to ${formatCount(total)}.`,
        'Same pool, same records, one commit per batch on every row; "vs raw COPY" is raw COPY ms ÷ variant ms.',
        'The product keeps the per-minute rollups in the same transaction (a statement trigger on records); the limit and the unpartitioned table run without it.',
      ],
    };
  } finally {
    await triggerOff.end();
    await pool.end();
  }
}
