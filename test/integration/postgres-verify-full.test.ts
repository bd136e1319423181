/**
 * `DATABASE_SSL=verify-full` as the no-proxy path runs it on Lambda: the server's certificate
 * comes from a CA that Node's own root store does not hold (there, an RDS CA; here, a CA made
 * for the test with openssl), and the CA is trusted only because NODE_EXTRA_CA_CERTS names a
 * file of it (there, Lambda's /var/runtime/ca-cert.pem). Node reads that variable at start-up
 * only, so each connection attempt runs in a fresh Node process, through the same createPool
 * the functions use, against an embedded PostgreSQL of its own with TLS turned on.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedPostgresServer } from '../../local/postgres';
import { freePort } from '../../local/services';

const run = promisify(execFile);
const USER = 'postgres';
const PASSWORD = 'local-only-tls-test';
const STORE = pathToFileURL(path.resolve(import.meta.dirname, '../../lambdas/adapters/pg-record-store.ts')).href;

/** Connects once with verify-full from a new Node process; says whether TLS was used, or why it failed. */
const PROBE = `
import { createPool } from ${JSON.stringify(STORE)};
const pool = createPool({ connection: { host: process.env.PROBE_HOST, port: Number(process.env.PROBE_PORT), user: ${JSON.stringify(USER)}, password: ${JSON.stringify(PASSWORD)}, database: 'postgres' }, ssl: 'verify-full', max: 1 });
try {
  const { rows } = await pool.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  console.log(JSON.stringify({ ok: true, ssl: rows[0].ssl }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, message: error.message }));
} finally {
  await pool.end();
}`;

/** A CA, and a server certificate it signs for the name `localhost` only. */
function makeCertificates(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=data-handler test CA');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasOpenssl())('verify-full against a server whose CA only NODE_EXTRA_CA_CERTS provides', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'dh-tls-'));
  let server: EmbeddedPostgresServer;
  let port: number;

  const probe = async (host: string, extraCa: boolean) => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PROBE_HOST: host, PROBE_PORT: String(port) };
    if (extraCa) env.NODE_EXTRA_CA_CERTS = path.join(scratch, 'ca.pem');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE], { env, cwd: path.resolve(import.meta.dirname, '../..') });
    return JSON.parse(stdout.trim().split('\n').pop()!) as { ok: boolean; ssl?: boolean; message?: string };
  };

  beforeAll(async () => {
    chmodSync(scratch, 0o755);
    makeCertificates(scratch);
    port = await freePort();
    server = new EmbeddedPostgresServer({ dataDir: path.join(scratch, 'pg'), port, user: USER, password: PASSWORD });
    await server.start();
    // PostgreSQL reads its key only if the server's own account owns it and no one else can.
    const owner = statSync(path.join(scratch, 'pg'));
    for (const file of ['server.key', 'server.pem']) chownSync(path.join(scratch, file), owner.uid, owner.gid);
    chmodSync(path.join(scratch, 'server.key'), 0o600);
    const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${path.join(scratch, 'server.pem')}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${path.join(scratch, 'server.key')}'`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
    } finally {
      await admin.end();
    }
    // The reload is asynchronous: wait until new sessions see TLS on.
    for (let i = 0; i < 50; i++) {
      const check = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
      await check.connect();
      const { rows } = await check.query('SHOW ssl');
      await check.end();
      if (rows[0].ssl === 'on') return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('PostgreSQL did not turn TLS on');
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('connects over TLS when the CA is loaded through NODE_EXTRA_CA_CERTS, as the no-proxy functions load the RDS CAs', async () => {
    expect(await probe('localhost', true)).toEqual({ ok: true, ssl: true });
  });

  it('refuses the same server without it: Node\'s own root store does not hold the CA', async () => {
    const result = await probe('localhost', false);
    expect(result.ok).toBe(false);
    // The server sends its own certificate only; Node finds no trusted issuer for it.
    expect(result.message).toMatch(/unable to verify the first certificate|self[- ]signed certificate/i);
  });

  it('refuses a certificate that names another host, even with the CA loaded', async () => {
    const result = await probe('127.0.0.1', true);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/Hostname\/IP does not match|not in the cert's altnames/i);
  });
});
