/**
 * RecordReader on PostgreSQL: keyset pages on (date, id), and a server-side cursor for streams.
 */
import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { PageKey, RecordReader, RecordScope, TimeWindow } from '../core/ports';
import type { StoredRecord } from '../core/record';
import { textTimestampTypes } from './pg-record-store';

/** Rows fetched per round trip when streaming. */
const STREAM_CHUNK = 5_000;

function scopeClause(scope: RecordScope, params: unknown[]): string {
  if ('allUsers' in scope) return '';
  params.push(scope.userId);
  return ` AND user_id = $${params.length}`;
}

export class PgRecordReader implements RecordReader {
  constructor(private readonly pool: pg.Pool) {}

  async page(window: TimeWindow, scope: RecordScope, limit: number, after?: PageKey): Promise<StoredRecord[]> {
    const params: unknown[] = [window.start, window.end];
    let sql = 'SELECT id, user_id, data, date, accepted_at, stored_at FROM records WHERE date >= $1 AND date <= $2';
    sql += scopeClause(scope, params);
    if (after) {
      params.push(after.date, after.id);
      sql += ` AND (date, id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`;
    }
    params.push(limit);
    sql += ` ORDER BY date, id LIMIT $${params.length}`;
    return (await this.pool.query<StoredRecord>(sql, params)).rows;
  }

  async *stream(window: TimeWindow, scope: RecordScope): AsyncIterable<{ data: number; date: string }> {
    const params: unknown[] = [window.start, window.end];
    const sql = `SELECT data, date FROM records WHERE date >= $1 AND date <= $2${scopeClause(scope, params)} ORDER BY date, id`;
    const client = await this.pool.connect();
    // pg-cursor parses rows itself, so it gets the text timestamp parser explicitly.
    const cursor = client.query(new Cursor<{ data: number; date: string }>(sql, params, { types: textTimestampTypes }));
    try {
      for (;;) {
        const rows = await cursor.read(STREAM_CHUNK);
        if (rows.length === 0) return;
        yield* rows;
      }
    } finally {
      await cursor.close().catch(() => undefined);
      client.release();
    }
  }
}
