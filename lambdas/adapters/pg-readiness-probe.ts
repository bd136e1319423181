/**
 * ReadinessProbe on PostgreSQL: a NEW connection, logged in, that answers `SELECT 1`, all within
 * a deadline, then closed. A new connection, never a pooled one: a server that can no longer
 * start sessions (a postmaster that is stopped or overloaded, a proxy that cannot reach its
 * target, connection slots used up) still serves the sessions it already has, so only a new
 * one tells. A TCP connect alone would not tell either: a stopped postmaster's kernel still
 * accepts connections into its backlog, and the startup handshake is never answered.
 */
import pg from 'pg';
import type { Readiness, ReadinessProbe } from '../core/ports';
import { sqlstateOf } from './pg-errors';
import { sslOptions, type PgPoolOptions } from './pg-record-store';

/** How to reach the database: the settings of one connection, and its TLS mode. */
export interface PgConnectionSettings {
  /**
   * The connection's settings. A `Client` class given beside them (shared/database.ts gives one
   * that reads the role's current secret at each connect) opens the connection.
   */
  readonly config: pg.ClientConfig & { readonly Client?: typeof pg.Client };
  readonly ssl?: PgPoolOptions['ssl'];
}

export interface PgReadinessProbeOptions {
  /**
   * The connection settings, asked for at each probe (and inside its deadline): on AWS they need
   * the role's secret. Should keep a successful answer, never a failed one.
   */
  readonly settings: () => Promise<PgConnectionSettings>;
  /** How long a new connection may take to be ready for a query: TCP, TLS and the login. */
  readonly connectTimeoutMs: number;
  /** How long `SELECT 1` may take to answer. */
  readonly queryTimeoutMs: number;
}

/** Where a probe was when it failed. */
type Stage = 'settings' | 'connect' | 'query';

/** The probe's own deadline passed (it covers reading the settings too). */
class ProbeDeadlineError extends Error {
  override readonly name = 'TimeoutError';
}

const UNREACHABLE = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);

const isTimeout = (error: unknown) =>
  error instanceof ProbeDeadlineError || (error instanceof Error && /timeout expired|connection timeout|Query read timeout/i.test(error.message));

/**
 * The public reason for a failed probe: it names the database and what failed, from the stage,
 * Node's network code or the SQLSTATE only, never from the driver's message (which can quote a
 * user name, a host or a setting).
 */
export function notReadyReason(stage: Stage, error: unknown, timeouts: { connectTimeoutMs: number; queryTimeoutMs: number }): string {
  if (stage === 'settings') return isTimeout(error) ? 'PostgreSQL: the connection settings (credentials) could not be read in time' : 'PostgreSQL: the connection settings (credentials) could not be read';
  if (isTimeout(error)) {
    return stage === 'connect'
      ? `PostgreSQL did not accept a new connection within ${timeouts.connectTimeoutMs} ms`
      : `PostgreSQL did not answer SELECT 1 within ${timeouts.queryTimeoutMs} ms`;
  }
  const code = sqlstateOf(error) ?? '';
  if (code === 'ECONNREFUSED') return 'PostgreSQL refused the connection (nothing listens on its port)';
  if (UNREACHABLE.has(code)) return 'PostgreSQL could not be reached';
  if (code === '53300') return 'PostgreSQL has no free connection slot';
  if (/^57P0[123]$/.test(code)) return 'PostgreSQL is starting up, shutting down or restarting';
  if (code === '28000' || code === '28P01') return 'PostgreSQL refused the login';
  if (/^[0-9A-Z]{5}$/.test(code)) return `PostgreSQL refused the new session (SQLSTATE ${code})`;
  if (error instanceof Error && /Connection terminated/i.test(error.message)) return 'PostgreSQL closed the new connection';
  return 'PostgreSQL did not take a new session';
}

export class PgReadinessProbe implements ReadinessProbe {
  constructor(private readonly options: PgReadinessProbeOptions) {}

  /** The longest a probe takes: the connect and the query timeouts (the settings count against them). */
  get deadlineMs(): number {
    return this.options.connectTimeoutMs + this.options.queryTimeoutMs;
  }

  async check(): Promise<Readiness> {
    let stage: Stage = 'settings';
    let client: pg.Client | undefined;
    let timer: NodeJS.Timeout | undefined;
    let over = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProbeDeadlineError(`probe deadline (${this.deadlineMs} ms)`)), this.deadlineMs);
    });
    const probe = async () => {
      const { config, ssl } = await this.options.settings();
      if (over) return; // the settings came after the deadline: no connection is opened
      stage = 'connect';
      const Client = config.Client ?? pg.Client;
      const tls = sslOptions(ssl);
      client = new Client({
        ...config,
        connectionTimeoutMillis: this.options.connectTimeoutMs,
        query_timeout: this.options.queryTimeoutMs,
        ...(tls ? { ssl: tls } : {}),
      });
      // A connection that breaks after the verdict must not crash the function.
      client.on('error', () => undefined);
      await client.connect();
      stage = 'query';
      await client.query('SELECT 1');
    };
    try {
      await Promise.race([probe(), deadline]);
      return { ready: true };
    } catch (error) {
      return { ready: false, reason: notReadyReason(stage, error, this.options), cause: error };
    } finally {
      over = true;
      clearTimeout(timer);
      // Closed whatever the verdict; a connection still connecting or querying is destroyed.
      // Not awaited: a stalled server must not hold the answer.
      (client as pg.Client | undefined)?.end().catch(() => undefined);
    }
  }
}
