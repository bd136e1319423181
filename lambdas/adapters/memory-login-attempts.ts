/**
 * LoginAttemptStore in this execution environment's memory. It counts only what this one
 * environment sees: a fallback for a login function that has no table bound (a local stack
 * that provisions none), never what the deployed stack uses (it binds a DynamoDB table).
 */
import type { LoginAttemptStore, LoginLimit, Taken } from '../core/login-limit';

/** Counters kept at most; the oldest window goes first when there are more. */
const MAX_KEYS = 100_000;

export class MemoryLoginAttempts implements LoginAttemptStore {
  private readonly windows = new Map<string, { attempts: number; expiresAtMs: number }>();

  async take(key: string, limit: LoginLimit, nowMs: number): Promise<Taken> {
    const window = this.windows.get(key);
    if (!window || window.expiresAtMs <= nowMs) {
      this.windows.delete(key);
      if (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, { attempts: 1, expiresAtMs: nowMs + limit.windowSeconds * 1000 });
      return { allowed: true };
    }
    if (window.attempts >= limit.maxFailures) {
      return { allowed: false, retryAfterSeconds: Math.max(Math.ceil((window.expiresAtMs - nowMs) / 1000), 1) };
    }
    window.attempts++;
    return { allowed: true };
  }

  async giveBack(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window && window.attempts > 0) window.attempts--;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }
}
