/**
 * A TCP proxy in front of PostgreSQL that can be taken down and brought back on the same port:
 * down, new connections are refused and open ones are cut (ECONNREFUSED, "Connection terminated"),
 * as when the database process dies or its host is unreachable.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class DatabaseProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  private listenPort = 0;

  private constructor(private readonly target: { host: string; port: number }) {}

  /** The port it listens on, the same across `down()` and `up()`. */
  get port(): number {
    return this.listenPort;
  }

  /** A proxy to the server of `databaseUrl`; `url` is the same database through the proxy. */
  static async start(databaseUrl: string): Promise<DatabaseProxy & { readonly url: string }> {
    const target = new URL(databaseUrl);
    const proxy = new DatabaseProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.up();
    const url = new URL(databaseUrl);
    url.port = String(proxy.port);
    return Object.assign(proxy, { url: url.href });
  }

  /** Listens (again, on the same port). */
  async up(): Promise<void> {
    if (this.server) return;
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
    this.listenPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Refuses new connections and cuts every open one. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
