/**
 * An HTTP/1.1 client on a bare `node:net` socket, for tests that control every byte: a request
 * cut short, headers that never end, several requests on one kept-alive connection. Unlike
 * Node's http client it tells a clean close (`end`, FIN) from a reset (`ECONNRESET`, RST).
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-case names; a repeated header's values joined by ", ". */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export class RawConnection {
  /** The socket's error code (ECONNRESET for a reset), if it failed. */
  error: string | undefined;
  /** Whether the server closed its side (a FIN). */
  ended = false;
  closed = false;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    const notify = () => {
      for (const wake of this.waiters.splice(0)) wake();
    };
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      notify();
    });
    socket.on('end', () => {
      this.ended = true;
      notify();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.error = error.code ?? error.message;
      notify();
    });
    socket.on('close', () => {
      this.closed = true;
      notify();
    });
  }

  /**
   * Connects to an `http://127.0.0.1:port` URL; rejects with the socket's error (ECONNREFUSED
   * once a server stopped listening). `allowHalfOpen` keeps our side open for writing after the
   * server closed its own.
   */
  static open(url: string, options: { allowHalfOpen?: boolean } = {}): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = connect({ port: Number(port), host: hostname, allowHalfOpen: options.allowHalfOpen ?? false });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Bytes received and not yet taken as a response. */
  get pending(): number {
    return this.buffer.length;
  }

  /**
   * The next whole response (a `100 Continue` is skipped), or undefined when the connection
   * ended or failed before one arrived whole (see `error`, `ended` and `pending`).
   */
  async response(): Promise<RawResponse | undefined> {
    for (;;) {
      const parsed = this.parse();
      if (parsed) return parsed;
      if (this.ended || this.closed || this.error) return undefined;
      await this.next();
    }
  }

  /** Resolves once the socket is closed. */
  async whenClosed(): Promise<void> {
    while (!this.closed) await this.next();
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }

  private parse(): RawResponse | undefined {
    const headEnd = this.buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return undefined;
    const [statusLine = '', ...lines] = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const start = headEnd + 4;
    if (status === 100) {
      this.buffer = this.buffer.subarray(start);
      return this.parse();
    }
    let body: Buffer;
    let end: number;
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const chunks: Buffer[] = [];
      let at = start;
      for (;;) {
        const lineEnd = this.buffer.indexOf('\r\n', at);
        if (lineEnd < 0) return undefined;
        const size = parseInt(this.buffer.subarray(at, lineEnd).toString('latin1'), 16);
        if (this.buffer.length < lineEnd + 2 + size + 2) return undefined;
        chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
      end = at;
    } else if (headers['content-length'] !== undefined) {
      end = start + Number(headers['content-length']);
      if (this.buffer.length < end) return undefined;
      body = this.buffer.subarray(start, end);
    } else {
      // Delimited by the close.
      if (!this.ended) return undefined;
      end = this.buffer.length;
      body = this.buffer.subarray(start);
    }
    this.buffer = this.buffer.subarray(end);
    return { status, headers, body: Buffer.from(body) };
  }
}

/** A request's bytes; `body` sets Content-Length unless `headers` has a length or encoding of its own. */
export function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body = ''): string {
  const all: Record<string, string> = { host: '127.0.0.1', ...headers };
  if (body && !('content-length' in all) && !('transfer-encoding' in all)) all['content-length'] = String(Buffer.byteLength(body));
  return `${method} ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n${body}`;
}
