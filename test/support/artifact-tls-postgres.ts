/**
 * A PostgreSQL server of its own for the artifact tests, that speaks TLS only: a test CA signs
 * its certificate (for 127.0.0.1 and localhost), and its pg_hba.conf accepts `hostssl` lines
 * only, so a function that connects without TLS is refused. The functions' DATABASE_SSL stays
 * `verify-full`, as the template says: they must check the certificate and the host name.
 *
 * The shared test server (global-setup.ts) runs without TLS, and other test files rely on that,
 * so this is a second embedded server rather than a change to the first.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { EmbeddedPostgresServer } from '../../local/postgres';
import { freePort } from '../../local/services';

export interface TlsPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The test CA that signed the server's certificate (PEM). */
  readonly caFile: string;
  readonly caPem: string;
  /** A client configuration for `database`, over verified TLS. */
  clientConfig(database: string): pg.ClientConfig;
  /** Creates `name` (a plain identifier). */
  createDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') throw new Error('openssl is needed to make the test CA for the TLS PostgreSQL; install it (apt-get install openssl)');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`);
  }
}

/** A CA and a server certificate for 127.0.0.1 and localhost, valid for a day. */
async function makeCertificates(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=data-handler artifact test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(
    path.join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n',
  );
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'server.ext'], dir);
  return { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
}

const sql = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** Starts the server, turns TLS on and plain connections off; resolves once TLS answers. */
export async function startTlsPostgres(): Promise<TlsPostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dh-artifacts-pg-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const user = 'artifacts';
  // A password of this run: the functions can only know it through the Secrets Manager emulator.
  const password = randomBytes(12).toString('hex');
  const server = new EmbeddedPostgresServer({ dataDir: path.join(dir, 'pg'), port, user, password });
  try {
    const { caFile, certFile, keyFile } = await makeCertificates(path.join(dir, 'tls'));
    const caPem = await readFile(caFile, 'utf8');
    await server.start();
    const plain = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
    await plain.connect();
    try {
      const dataDir = (await plain.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
      const owner = await stat(dataDir);
      // PostgreSQL reads its key only when the server's account owns it and nobody else can.
      await chown(keyFile, owner.uid, owner.gid);
      await chmod(keyFile, 0o600);
      await plain.query(`ALTER SYSTEM SET ssl_cert_file = ${sql(certFile)}`);
      await plain.query(`ALTER SYSTEM SET ssl_key_file = ${sql(keyFile)}`);
      await plain.query('ALTER SYSTEM SET ssl = on');
      const hbaFile = (await plain.query<{ hba_file: string }>('SHOW hba_file')).rows[0]!.hba_file;
      await writeFile(hbaFile, 'hostssl all all 127.0.0.1/32 scram-sha-256\n');
      await plain.query('SELECT pg_reload_conf()');
    } finally {
      await plain.end();
    }
    const clientConfig = (database: string): pg.ClientConfig => ({
      host: '127.0.0.1', port, user, password, database, ssl: { rejectUnauthorized: true, ca: caPem },
    });
    await untilTlsAnswers(clientConfig('postgres'));
    return {
      host: '127.0.0.1',
      port,
      user,
      password,
      caFile,
      caPem,
      clientConfig,
      async createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
        const admin = new pg.Client(clientConfig('postgres'));
        await admin.connect();
        await admin.query(`CREATE DATABASE ${name}`).finally(() => admin.end());
      },
      async stop() {
        await server.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The reload that turns TLS on is applied asynchronously: wait until a TLS connection works. */
async function untilTlsAnswers(config: pg.ClientConfig): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client(config);
    try {
      await client.connect();
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw new Error(`the TLS PostgreSQL does not answer over TLS: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
