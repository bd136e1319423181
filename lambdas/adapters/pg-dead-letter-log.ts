/**
 * DeadLetterLog on PostgreSQL: the `dead_letters` table, one row per refused message id, so the
 * dead-letter listing can show the database's own reason beside each dead letter. The database
 * has just answered when it refuses data, so it is there to take the note.
 */
import type pg from 'pg';
import type { DeadLetterLog, NotedRefusal, RefusedMessage } from '../core/ports';

/** SQS keeps a dead letter 14 days at most (from its first send); a note outlives that by a day. */
const KEEP_DAYS = 15;

// Old notes go in the same statement, so the table stays bounded without a scheduled job.
const NOTE = `
  WITH pruned AS (DELETE FROM dead_letters WHERE last_seen < now() - make_interval(days => ${KEEP_DAYS}))
  INSERT INTO dead_letters (message_id, reason, sqlstate, detail, constraint_name, receive_count)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[])
  ON CONFLICT (message_id) DO UPDATE SET
    reason = EXCLUDED.reason,
    sqlstate = EXCLUDED.sqlstate,
    detail = EXCLUDED.detail,
    constraint_name = EXCLUDED.constraint_name,
    receive_count = GREATEST(dead_letters.receive_count, EXCLUDED.receive_count),
    last_seen = now()`;

const READ = `
  SELECT message_id, reason, sqlstate, detail, constraint_name, receive_count, first_seen, last_seen
  FROM dead_letters WHERE message_id = ANY($1::text[])`;

interface Row {
  message_id: string;
  reason: string;
  sqlstate: string;
  detail: string | null;
  constraint_name: string | null;
  receive_count: number;
  first_seen: string;
  last_seen: string;
}

export class PgDeadLetterLog implements DeadLetterLog {
  constructor(private readonly pool: pg.Pool) {}

  async noteRefusals(messages: readonly RefusedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    // One row per id: a batch holds each message once, but be safe against a repeat.
    const unique = [...new Map(messages.map((m) => [m.messageId, m])).values()];
    await this.pool.query(NOTE, [
      unique.map((m) => m.messageId),
      unique.map((m) => m.reason),
      unique.map((m) => m.sqlstate),
      unique.map((m) => m.detail ?? null),
      unique.map((m) => m.constraint ?? null),
      unique.map((m) => m.receiveCount),
    ]);
  }

  async refusals(messageIds: readonly string[]): Promise<Map<string, NotedRefusal>> {
    const out = new Map<string, NotedRefusal>();
    // A bounded array per query, however many dead letters are listed.
    for (let i = 0; i < messageIds.length; i += 5_000) {
      const { rows } = await this.pool.query<Row>(READ, [messageIds.slice(i, i + 5_000)]);
      for (const r of rows) {
        out.set(r.message_id, {
          messageId: r.message_id,
          reason: r.reason,
          sqlstate: r.sqlstate,
          ...(r.detail !== null ? { detail: r.detail } : {}),
          ...(r.constraint_name !== null ? { constraint: r.constraint_name } : {}),
          receiveCount: r.receive_count,
          firstSeen: r.first_seen,
          lastSeen: r.last_seen,
        });
      }
    }
    return out;
  }
}
