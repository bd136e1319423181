/**
 * The reasons GET /health gives: each names PostgreSQL and what failed, from the stage, Node's
 * network code or the SQLSTATE, and never repeats the driver's message (which can quote a user,
 * a host or a setting). The errors are shaped as node-postgres and Node raise them.
 */
import { describe, expect, it } from 'vitest';
import { notReadyReason } from '../../../lambdas/adapters/pg-readiness-probe';

const TIMEOUTS = { connectTimeoutMs: 1500, queryTimeoutMs: 1200 };
const coded = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('the reason a PostgreSQL readiness probe failed', () => {
  it.each([
    ['connect', new Error('timeout expired'), 'PostgreSQL did not accept a new connection within 1500 ms'],
    ['connect', new Error('Connection terminated due to connection timeout'), 'PostgreSQL did not accept a new connection within 1500 ms'],
    ['query', new Error('Query read timeout'), 'PostgreSQL did not answer SELECT 1 within 1200 ms'],
    ['connect', coded('connect ECONNREFUSED 10.0.0.7:5432', 'ECONNREFUSED'), 'PostgreSQL refused the connection (nothing listens on its port)'],
    ['connect', coded('getaddrinfo ENOTFOUND db.internal.example', 'ENOTFOUND'), 'PostgreSQL could not be reached'],
    ['connect', coded('sorry, too many clients already', '53300'), 'PostgreSQL has no free connection slot'],
    ['connect', coded('the database system is starting up', '57P03'), 'PostgreSQL is starting up, shutting down or restarting'],
    ['connect', coded('password authentication failed for user "data_handler_reader"', '28P01'), 'PostgreSQL refused the login'],
    ['connect', coded('database "secret_db" does not exist', '3D000'), 'PostgreSQL refused the new session (SQLSTATE 3D000)'],
    ['connect', new Error('Connection terminated unexpectedly'), 'PostgreSQL closed the new connection'],
    ['connect', new Error('self-signed certificate in certificate chain (host db.internal.example)'), 'PostgreSQL did not take a new session'],
    ['settings', new Error('AccessDeniedException: arn:aws:secretsmanager:eu-west-1:1:secret:x'), 'PostgreSQL: the connection settings (credentials) could not be read'],
  ] as const)('after a failure at %s (%s) is "%s"', (stage, error, reason) => {
    expect(notReadyReason(stage, error, TIMEOUTS)).toBe(reason);
  });
});
