/**
 * Time partitions of a table, planned: which partitions to create ahead of time and which to
 * drop past the retention horizon. Pure; adapters/pg-partitions.ts reads the catalogue and
 * carries a plan out, and handlers/maintain.ts runs both on a schedule.
 *
 * A partitioned table (`records` by `date`) has three kinds of partition, which together cover
 * every instant exactly once, so that no row is ever refused for its time:
 *
 *     <table>_before            (MINVALUE, first)   the past: backfills, rows of a converted table
 *     <table>_p20241001 …       fixed-size ranges    contiguous, aligned to PARTITION_ORIGIN
 *     <table>_after             [last, MAXVALUE)     the future beyond the partitions made ahead
 *
 * Each maintenance pass moves the boundary between the fixed partitions and `_after` forward, so
 * that the current partition and `ahead` more exist, and (with a retention) drops the fixed
 * partitions wholly past the horizon, folding their range into `_before`, which is itself dropped
 * and made anew, empty, once its newest possible row is past the horizon. Rows never move
 * between partitions, except the rare ones dated beyond the partitions made ahead, which move
 * out of `_after` into the partitions made for them.
 */

/** Where fixed partitions are aligned from: each starts a whole number of sizes after it. */
export const PARTITION_ORIGIN_MS = Date.UTC(2000, 0, 1);
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** A partition as the catalogue shows it: its bounds in epoch ms, null for MINVALUE or MAXVALUE. */
export interface PartitionBound {
  readonly name: string;
  readonly from: number | null;
  readonly to: number | null;
}

/** A fixed partition to create. */
export interface NewPartition {
  readonly name: string;
  readonly from: number;
  readonly to: number;
}

export interface PartitionSettings {
  /** The size of each fixed partition, in ms: a whole number of hours. */
  readonly sizeMs: number;
  /** Partitions made ahead of the current one. */
  readonly ahead: number;
  /** Rows older than this many days are dropped, a whole partition at a time. @default - kept forever */
  readonly retentionDays?: number;
}

export interface PartitionPlan {
  /**
   * Fixed partitions to create where `_after` began: `_after` is detached, the rows of these
   * ranges move out of it into them, and it is attached again from `afterFrom`.
   */
  readonly create: readonly NewPartition[];
  readonly afterFrom?: number;
  /** Fixed partitions wholly past the horizon, to drop. */
  readonly drop: readonly PartitionBound[];
  /** `_before` is dropped, and made anew (empty) up to this bound: its rows are all past the horizon. */
  readonly beforeTo?: number;
}

/** The layout read from the catalogue, checked: `_before`, the fixed partitions in order, `_after`. */
export interface PartitionLayout {
  readonly before: PartitionBound & { readonly to: number };
  readonly fixed: readonly (PartitionBound & { readonly from: number; readonly to: number })[];
  readonly after: PartitionBound & { readonly from: number };
}

/** A layout that does not cover every instant exactly once: the table must be repaired by hand. */
export class PartitionLayoutError extends Error {
  override readonly name = 'PartitionLayoutError';
}

/** `2024-10-01` as `20241001`, with the hour too when partitions are smaller than a day. */
export function partitionName(table: string, fromMs: number, sizeMs: number): string {
  const iso = new Date(fromMs).toISOString();
  const day = iso.slice(0, 10).replaceAll('-', '');
  const wholeDays = sizeMs % DAY_MS === 0 && fromMs % DAY_MS === 0;
  return `${table}_p${wholeDays ? day : `${day}_${iso.slice(11, 13)}${iso.slice(14, 16) === '00' ? '' : iso.slice(14, 16)}`}`;
}

/** The grid point at or before `ms`. */
export function gridFloor(ms: number, sizeMs: number): number {
  return PARTITION_ORIGIN_MS + Math.floor((ms - PARTITION_ORIGIN_MS) / sizeMs) * sizeMs;
}

/** Checks that the partitions cover every instant once, in the three kinds above. */
export function layoutOf(table: string, partitions: readonly PartitionBound[]): PartitionLayout {
  const before = partitions.filter((p) => p.from === null);
  const after = partitions.filter((p) => p.to === null);
  const fixed = partitions.filter((p) => p.from !== null && p.to !== null).sort((a, b) => a.from! - b.from!) as PartitionLayout['fixed'];
  const fail = (why: string): never => {
    throw new PartitionLayoutError(`the partitions of ${table} ${why}; found: ${partitions.map((p) => p.name).join(', ') || 'none'}`);
  };
  const foreign = partitions.filter((p) => [p.from, p.to].some((b) => b !== null && !Number.isFinite(b)));
  if (foreign.length) fail(`include ${foreign.map((p) => p.name).join(', ')}, not a range of one time column (a DEFAULT partition, say)`);
  if (before.length !== 1 || before[0]!.to === null) fail('have no single partition from MINVALUE (its _before partition)');
  if (after.length !== 1) fail('have no single partition to MAXVALUE (its _after partition)');
  let edge = before[0]!.to!;
  for (const p of fixed) {
    if (p.from !== edge) fail(`leave a gap or overlap at ${new Date(Math.min(edge, p.from)).toISOString()}`);
    edge = p.to;
  }
  if (after[0]!.from !== edge) fail(`leave a gap or overlap at ${new Date(edge).toISOString()}`);
  return { before: before[0] as PartitionLayout['before'], fixed, after: after[0] as PartitionLayout['after'] };
}

/**
 * What one pass does at `nowMs`: the partitions to make so that the current one and `ahead` more
 * exist, then (with a retention) those to drop. Nothing when the table is as it should be.
 *
 * When the partitions made ahead ran out long ago (maintenance stopped for a while), the whole
 * gap up to the current partition becomes one partition: a pass makes a bounded number of them.
 * An empty `_before` is made anew only when fixed partitions fold into it (`beforeHasRows`).
 */
export function planPartitions(table: string, partitions: readonly PartitionBound[], nowMs: number, settings: PartitionSettings, beforeHasRows = true): PartitionPlan {
  return planLayout(table, layoutOf(table, partitions), nowMs, settings, beforeHasRows);
}

/**
 * planPartitions for a layout already checked. A plan drops fixed partitions only together
 * with `_before` (`beforeTo` set): they fold into it.
 */
export function planLayout(table: string, layout: PartitionLayout, nowMs: number, settings: PartitionSettings, beforeHasRows = true): PartitionPlan {
  const { sizeMs } = settings;
  const current = gridFloor(nowMs, sizeMs);
  const end = current + (settings.ahead + 1) * sizeMs;
  const create: NewPartition[] = [];
  let edge = layout.after.from;
  if (edge < current) {
    create.push({ name: partitionName(table, edge, sizeMs), from: edge, to: current });
    edge = current;
  }
  while (edge < end) {
    const to = gridFloor(edge, sizeMs) + sizeMs; // a first partition off the grid ends on it
    create.push({ name: partitionName(table, edge, sizeMs), from: edge, to });
    edge = to;
  }
  const afterFrom = create.length ? edge : undefined;
  if (settings.retentionDays === undefined) return { create, afterFrom, drop: [] };

  // Retention, on the layout after the creation: the fixed partitions wholly past the horizon
  // go, and _before with them once every row it may hold is past it too.
  const horizon = nowMs - settings.retentionDays * DAY_MS;
  const fixed = [...layout.fixed, ...create];
  const drop = fixed.filter((p) => p.to <= horizon);
  if (layout.before.to > horizon) return { create, afterFrom, drop: [] }; // no fixed one is older
  if (drop.length === 0 && !beforeHasRows) return { create, afterFrom, drop };
  const beforeTo = drop.length ? drop.at(-1)!.to : layout.before.to;
  return { create, afterFrom, drop, beforeTo };
}
