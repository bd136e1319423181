/**
 * Time partitions on PostgreSQL: reads a table's partitions from the catalogue, and carries out
 * a plan from core/partitions.ts, each step in one short transaction.
 *
 * - A pass holds a session advisory lock: two passes that overlap (a schedule and
 *   `npm run maintain`, say) do not both act; the second does nothing and says so.
 * - DDL on a partitioned table takes a lock on it that queues every statement behind it, so each
 *   transaction sets a lock_timeout: a pass that cannot have the lock soon gives up its step and
 *   tries again a few times, rather than stalling the writer and the readers behind it.
 * - Only the owner may run this (it creates and drops tables): the maintenance function and
 *   the migrations connect as the owner, never the writer or the readers.
 */
import type pg from 'pg';
import { layoutOf, planLayout, type PartitionBound, type PartitionPlan, type PartitionSettings } from '../core/partitions';
import { pgTimestampToIso } from './pg-record-store';
import { sqlstateOf } from './pg-errors';

/** A table partitioned by time, as maintenance needs to know it. */
export interface PartitionedTable {
  readonly table: string;
  /** The partition key, a timestamptz column. */
  readonly column: string;
  /** Every column, in order: rows that move out of `_after` keep them all. */
  readonly columns: readonly string[];
}

/** The records table, partitioned by the record's own date. */
export const RECORDS_TABLE: PartitionedTable = {
  table: 'records',
  column: 'date',
  columns: ['id', 'user_id', 'data', 'date', 'accepted_at', 'stored_at'],
};

/** The per-user rollups of records (one minute a row), partitioned by the bucket's start. */
export const ROLLUPS_TABLE: PartitionedTable = {
  table: 'record_rollups',
  column: 'bucket',
  columns: ['bucket', 'user_id', 'count', 'min', 'max', 'sum'],
};

/** The same rollups by the hour, and by the day. */
export const HOURLY_ROLLUPS_TABLE: PartitionedTable = { ...ROLLUPS_TABLE, table: 'record_rollups_hourly' };
export const DAILY_ROLLUPS_TABLE: PartitionedTable = { ...ROLLUPS_TABLE, table: 'record_rollups_daily' };

/** What one pass did to one table. */
export interface TableReport {
  readonly table: string;
  readonly created: readonly { name: string; from: string; to: string }[];
  readonly dropped: readonly string[];
  /** Rows dated beyond the partitions made ahead, moved out of `_after` into the new ones. */
  readonly moved: number;
  /** `_before` was dropped and made anew up to this bound. */
  readonly beforeTo?: string;
}

/** The advisory lock's key, this project's own ("dhpm" in ASCII). */
const ADVISORY_KEY = 0x64_68_70_6d; // "dhpm"
/** PostgreSQL's lock_not_available: the lock_timeout passed. */
const LOCK_NOT_AVAILABLE = '55P03';

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`;
const literal = (ms: number) => `'${new Date(ms).toISOString()}'`;
const BOUND = /FROM \((MINVALUE|'[^']+')\) TO \((MAXVALUE|'[^']+')\)/;

function boundMs(text: string): number | null {
  if (text === 'MINVALUE' || text === 'MAXVALUE') return null;
  return Date.parse(pgTimestampToIso(text.slice(1, -1)));
}

/** The partitions of a table with their bounds, and whether `_before` holds any row. */
export async function readPartitions(client: pg.ClientBase, spec: PartitionedTable): Promise<{ partitions: PartitionBound[]; beforeHasRows: boolean }> {
  // Bounds are printed in the session's time zone; UTC makes them plain to parse.
  await client.query("SET TIME ZONE 'UTC'");
  const { rows } = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = to_regclass($1)`,
    [spec.table],
  );
  const partitions = rows.map(({ name, bound }) => {
    const match = BOUND.exec(bound);
    // A DEFAULT partition, or a bound on several columns: not a layout this code made.
    if (!match) return { name, from: Number.NaN, to: Number.NaN };
    return { name, from: boundMs(match[1]!), to: boundMs(match[2]!) };
  });
  const before = partitions.find((p) => p.from === null);
  const beforeHasRows = before ? (await client.query(`SELECT EXISTS (SELECT FROM ${quote(before.name)}) AS any`)).rows[0].any === true : false;
  return { partitions, beforeHasRows };
}

export interface PartitionPassOptions {
  /** How long a step waits for its lock on the table. @default 2000 */
  readonly lockTimeoutMs?: number;
  /** Tries of a step whose lock could not be had. @default 3 */
  readonly tries?: number;
  /** One line per partition made or dropped. */
  readonly log?: (line: string, detail: Record<string, unknown>) => void;
}

/** One transaction with a lock_timeout, tried again when the lock could not be had in time. */
async function step(client: pg.ClientBase, statements: readonly string[], options: PartitionPassOptions): Promise<pg.QueryResult[]> {
  const tries = options.tries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(options.lockTimeoutMs ?? 2_000))}`);
      const results: pg.QueryResult[] = [];
      for (const sql of statements) results.push(await client.query(sql));
      await client.query('COMMIT');
      return results;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (sqlstateOf(error) !== LOCK_NOT_AVAILABLE || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
}

/** Makes the plan's new partitions where `_after` began, moving into them any row `_after` held for their ranges. */
async function extend(client: pg.ClientBase, spec: PartitionedTable, plan: PartitionPlan, after: string, options: PartitionPassOptions): Promise<number> {
  if (plan.afterFrom === undefined) return 0;
  const table = quote(spec.table);
  const columns = spec.columns.map(quote).join(', ');
  const results = await step(
    client,
    [
      `ALTER TABLE ${table} DETACH PARTITION ${quote(after)}`,
      `CREATE TEMP TABLE dh_moving ON COMMIT DROP AS SELECT ${columns} FROM ${quote(after)} WHERE ${quote(spec.column)} < ${literal(plan.afterFrom)}`,
      `DELETE FROM ${quote(after)} WHERE ${quote(spec.column)} < ${literal(plan.afterFrom)}`,
      ...plan.create.map((p) => `CREATE TABLE ${quote(p.name)} PARTITION OF ${table} FOR VALUES FROM (${literal(p.from)}) TO (${literal(p.to)})`),
      `ALTER TABLE ${table} ATTACH PARTITION ${quote(after)} FOR VALUES FROM (${literal(plan.afterFrom)}) TO (MAXVALUE)`,
      // Moved, not new: the rollups counted these rows when they were stored (see the migration
      // 1765497600000_record-rollups).
      "SET LOCAL data_handler.moving_rows = 'on'",
      `INSERT INTO ${table} (${columns}) SELECT ${columns} FROM dh_moving`,
    ],
    options,
  );
  return results.at(-1)!.rowCount ?? 0;
}

/** Drops the fixed partitions past the horizon, and `_before`, which is made anew up to the plan's bound. */
async function expire(client: pg.ClientBase, spec: PartitionedTable, plan: PartitionPlan, before: string, options: PartitionPassOptions): Promise<void> {
  if (plan.beforeTo === undefined) return;
  await step(
    client,
    [
      ...plan.drop.map((p) => `DROP TABLE ${quote(p.name)}`),
      `DROP TABLE ${quote(before)}`,
      `CREATE TABLE ${quote(before)} PARTITION OF ${quote(spec.table)} FOR VALUES FROM (MINVALUE) TO (${literal(plan.beforeTo)})`,
    ],
    options,
  );
}

/** One pass over one table, on a client that holds the advisory lock. */
export async function maintainTable(client: pg.ClientBase, spec: PartitionedTable, nowMs: number, settings: PartitionSettings, options: PartitionPassOptions = {}): Promise<TableReport> {
  const { partitions, beforeHasRows } = await readPartitions(client, spec);
  const layout = layoutOf(spec.table, partitions);
  const plan = planLayout(spec.table, layout, nowMs, settings, beforeHasRows);
  const moved = await extend(client, spec, plan, layout.after.name, options);
  const created = plan.create.map((p) => ({ name: p.name, from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() }));
  for (const p of created) options.log?.(`created partition ${p.name}`, { table: spec.table, partition: p.name, from: p.from, to: p.to });
  await expire(client, spec, plan, layout.before.name, options);
  for (const p of plan.drop) options.log?.(`dropped partition ${p.name}`, { table: spec.table, partition: p.name, to: new Date(p.to!).toISOString() });
  return {
    table: spec.table,
    created,
    dropped: plan.drop.map((p) => p.name),
    moved,
    ...(plan.beforeTo === undefined ? {} : { beforeTo: new Date(plan.beforeTo).toISOString() }),
  };
}

/**
 * One maintenance pass over these tables, under the advisory lock; resolves undefined, having
 * done nothing, when another pass holds it.
 */
export async function maintainPartitions(
  client: pg.ClientBase,
  tables: readonly { spec: PartitionedTable; settings: PartitionSettings }[],
  nowMs: number,
  options: PartitionPassOptions = {},
): Promise<TableReport[] | undefined> {
  const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [ADVISORY_KEY]);
  if (!rows[0]!.locked) return undefined;
  try {
    const reports: TableReport[] = [];
    for (const { spec, settings } of tables) reports.push(await maintainTable(client, spec, nowMs, settings, options));
    return reports;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [ADVISORY_KEY]).catch(() => undefined);
  }
}
