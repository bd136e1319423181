/**
 * What a failure of node-postgres means for the caller: the database could not be reached (wait
 * and try again), or it answered and refused the data (trying again cannot help). The migration
 * runner and the record store both decide by these, so the two can never disagree.
 */
import type { StoreRefusal } from '../core/errors';

/** Socket-level failures: nothing answered, or the connection broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE']);

/**
 * Whether `error` says the database was not reachable, rather than that what was sent is wrong.
 * Right after it is created, an RDS Proxy refuses or drops connections (and may reject logins)
 * until its target is registered; a new instance can still be starting; a running one can
 * restart, fail over or run out of connections.
 * - Node's network errors, and node-postgres's connect timeout and dropped connections;
 * - SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down, cannot connect now),
 *   53300 (too many connections), 28000/28P01 (login refused while the proxy or a rotation settles).
 * An SQL error (syntax, constraint…) is not transient: retrying cannot fix it.
 */
export function isTransientConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = sqlstateOf(error);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    if (/^08|^57P0[123]$|^53300$|^28000$|^28P01$/.test(code)) return true;
  }
  if (error.name === 'TimeoutError') return true;
  if (/timeout expired|connection timeout|Connection terminated/i.test(error.message)) return true;
  return error.cause !== undefined && isTransientConnectionError(error.cause);
}

/**
 * SQLSTATE classes in which the database refuses the data itself: a data exception (22: a value
 * out of range, a bad date…), an integrity constraint (23: CHECK, NOT NULL, a foreign key…), or
 * an exception raised by a trigger or function (P0). The same rows fail the same way every time.
 */
const REFUSAL_CLASSES = /^(22|23|P0)/;

/** The refusal in `error`, or undefined when the failure is not the data's fault. */
export function dataRefusalOf(error: unknown): StoreRefusal | undefined {
  if (!(error instanceof Error) || isTransientConnectionError(error)) return undefined;
  const sqlstate = sqlstateOf(error);
  if (sqlstate === undefined || !REFUSAL_CLASSES.test(sqlstate)) return undefined;
  const { detail, constraint } = error as { detail?: unknown; constraint?: unknown };
  return {
    reason: error.message,
    sqlstate,
    ...(typeof detail === 'string' ? { detail } : {}),
    ...(typeof constraint === 'string' ? { constraint } : {}),
  };
}

/** node-postgres puts the SQLSTATE (or Node's network code) in `code`. */
export function sqlstateOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
