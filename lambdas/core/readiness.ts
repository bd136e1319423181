/**
 * GET /health is readiness: whether the API can serve requests that need the database now, not
 * merely whether a function runs. A probe costs a new database connection, so its cost is
 * bounded here: callers at the same time share the one probe in flight, and a verdict is reused
 * for a short while, so a flood of /health opens one connection per `reuseMs` at most (per
 * execution environment) instead of one per request.
 */
import type { Readiness, ReadinessProbe } from './ports';

/** Seconds a client is told to wait before asking again after a 503 (the gateway's own 503 says the same). */
export const HEALTH_RETRY_AFTER_SECONDS = 1;

/** The body of GET /health (api-schemas.ts `Health`): the same shape the local gateway answers while a service restarts. */
export type HealthBody = { readonly status: 'ok' } | { readonly status: 'degraded'; readonly reason: string };

/** The answer to GET /health for a verdict. */
export function healthAnswer(verdict: Readiness): { statusCode: 200 | 503; body: HealthBody } {
  return verdict.ready ? { statusCode: 200, body: { status: 'ok' } } : { statusCode: 503, body: { status: 'degraded', reason: verdict.reason } };
}

export interface SharedReadinessOptions {
  /** How long a verdict is reused after its probe ended. */
  readonly reuseMs: number;
  /** Called once for each probe that ran (not for a reused verdict), with the verdict before it. @default - nothing */
  readonly onProbe?: (verdict: Readiness, previous: Readiness | undefined) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A probe shared by concurrent callers (single flight), whose verdict is reused for `reuseMs`. */
export class SharedReadiness implements ReadinessProbe {
  private inFlight: Promise<Readiness> | undefined;
  private last: { readonly verdict: Readiness; readonly at: number } | undefined;
  private readonly now: () => number;
  /** Probes run so far. */
  probes = 0;

  constructor(
    private readonly probe: ReadinessProbe,
    private readonly options: SharedReadinessOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  check(): Promise<Readiness> {
    if (this.last && this.now() - this.last.at < this.options.reuseMs) return Promise.resolve(this.last.verdict);
    this.inFlight ??= this.run();
    return this.inFlight;
  }

  private async run(): Promise<Readiness> {
    this.probes++;
    let verdict: Readiness;
    try {
      verdict = await this.probe.check();
    } catch (error) {
      // A probe should not reject; one that does still answers 503, never a 500.
      verdict = { ready: false, reason: 'the readiness probe failed', cause: error };
    }
    const previous = this.last?.verdict;
    this.last = { verdict, at: this.now() };
    this.inFlight = undefined;
    this.options.onProbe?.(verdict, previous);
    return verdict;
  }
}
