/**
 * IdempotencyKeyStore in this execution environment's memory. It knows only the keys this one
 * environment saw: a fallback for an ingest function that has no table bound (a local stack
 * that provisions none, or a test of the factory), never what the deployed stack uses (it
 * binds a DynamoDB table).
 */
import { IDEMPOTENCY_KEY_TTL_SECONDS, type Claim, type IdempotencyKeyStore } from '../core/idempotency';

/** Claims kept at most; the oldest goes first when there are more. */
const MAX_KEYS = 100_000;

export class MemoryIdempotencyKeys implements IdempotencyKeyStore {
  private readonly claims = new Map<string, { fingerprint: string; expiresAtMs: number }>();

  constructor(private readonly ttlSeconds: number = IDEMPOTENCY_KEY_TTL_SECONDS) {}

  async claim(userId: string, key: string, fingerprint: string, nowMs: number): Promise<Claim> {
    const id = JSON.stringify([userId, key]);
    const held = this.claims.get(id);
    if (held && held.expiresAtMs > nowMs) return held.fingerprint === fingerprint ? 'retry' : 'conflict';
    this.claims.delete(id);
    if (this.claims.size >= MAX_KEYS) this.claims.delete(this.claims.keys().next().value!);
    this.claims.set(id, { fingerprint, expiresAtMs: nowMs + this.ttlSeconds * 1000 });
    return 'first';
  }

}
