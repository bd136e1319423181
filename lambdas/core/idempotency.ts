/**
 * Idempotency-Key conflicts of POST /api/data/upload. Record ids are derived from (user, key,
 * index) (see recordIds), so a retried request can never store anything twice; what the ids
 * alone cannot tell is a key reused with other records, which would answer 202 with the old
 * ids and silently drop the new values. So the first request with a key claims it, with a
 * fingerprint of its records, for a day: a later request with the same key and the same
 * records is a retry and answers with the same ids; one with other records is refused (422).
 * A retry enqueues its records again, whether the first request reached the queue or not: the
 * ids make the second copy harmless (the store keeps one row per id and pushes only new rows).
 * Noting "enqueued" on the claim would spare a rare retry that send at the price of one more
 * DynamoDB write, and its round trip, in every keyed upload.
 *
 * Keys are per user: two users may use the same key.
 */
import { IdempotencyKeyReusedError } from './errors';
import type { RecordInput } from './record';
import { canonicalValidated } from './timestamp';

/** How long a key stays claimed: a retry within a day is recognised. */
export const IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60;

/** The idempotency-keys table: its partition key and its TTL attribute (epoch seconds). */
export const IDEMPOTENCY_KEYS_TABLE = { partitionKey: 'keyHash', timeToLiveAttribute: 'expiresAt' } as const;

/** What claiming a key found: it was free (`first`), held by the same records (`retry`), or by other records (`conflict`). */
export type Claim = 'first' | 'retry' | 'conflict';

/** Remembers which records claimed each (user, key), until the claim expires. */
export interface IdempotencyKeyStore {
  /**
   * Claims `key` of `userId` for the records with `fingerprint`, unless a claim that has not
   * expired holds it: then says whether that claim was made with the same fingerprint.
   */
  claim(userId: string, key: string, fingerprint: string, nowMs: number): Promise<Claim>;
}

/**
 * What makes two uploads the same: their records' values and instants, in order. Spelling
 * does not count (whitespace, key order, `+02:00` versus `Z` for the same instant, one record
 * versus `{"records": [it]}`): those store the very same rows, so a client that re-serialises
 * its retry is still retrying.
 */
export function uploadFingerprint(inputs: readonly RecordInput[]): string {
  return JSON.stringify(inputs.map((r) => [r.data, canonicalValidated(r.date)]));
}

/** Claims the key for these records, or throws IdempotencyKeyReusedError when others hold it. */
export async function claimIdempotencyKey(
  store: IdempotencyKeyStore,
  userId: string,
  key: string,
  inputs: readonly RecordInput[],
  nowMs: number,
): Promise<Claim> {
  const claim = await store.claim(userId, key, uploadFingerprint(inputs), nowMs);
  if (claim === 'conflict') throw new IdempotencyKeyReusedError();
  return claim;
}
