/**
 * The local HTTP gateway's connections: how long a client may take to send a request, the
 * answer to one that stalls or does not parse, and closes that never reset an answer.
 *
 * Node's http server destroys a connection on a client error, at a kept-alive connection's
 * idle timeout and in closeIdleConnections / closeAllConnections. Destroying a socket with
 * bytes still unread in its receive buffer makes the kernel send a reset, and a reset makes
 * most clients (Node's own http among them) drop an answer they had not read yet. So here a
 * connection is ended instead: the answers already written go out, what still arrives is read
 * and discarded, and the socket is destroyed once the client has closed too or LINGER_MS after
 * our last byte went out (a lingering close, as nginx's).
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How long a client may take to send a request's headers, and its whole request (headers and
 * body), before it is answered 408 and its connection closed. The gateway listens on this
 * machine only, where a client sends its headers at once and even a 10 MB body in well under a
 * second; these bound a client that stalls (a bug, a dropped stream, a slowloris), not a slow
 * link: 20 s still lets a 10 MB body come in at 0.5 MB/s. They are not the integration
 * timeout: only receiving is timed, and a function's run is bounded by that timeout alone.
 */
export const RECEIVE_TIMEOUTS = { headersMs: 10_000, requestMs: 20_000 } as const;

/**
 * How often Node looks for requests past those timeouts: a tenth of the shorter one, at most
 * 1 s. Its default, 30 s, let a stalled request live up to 30 s past its timeout.
 */
export function checkingIntervalMs(headersTimeoutMs: number, requestTimeoutMs: number): number {
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 10)));
}

/** How long a connection we ended keeps discarding what arrives, once our last byte went out. */
const LINGER_MS = 5_000;

/**
 * At a stop, how long a kept-alive connection that has just had its answer is left open for
 * its client's next request (answered 503) before it is ended. A client in a loop sends that
 * request at once, and ending the connection under it shows it a close with no answer, which
 * Node's http client reports as a reset. Connections idle for longer are ended at once.
 */
export const STOP_IDLE_GRACE_MS = 1_000;

const closing = new WeakSet<Socket>();

/** Whether this side has ended the connection: nothing that arrives on it now can be answered. */
function isClosing(socket: Socket): boolean {
  return closing.has(socket) || socket.writableEnded || socket.destroyed;
}

/** Ends the connection with a lingering close (see above). */
function closeLingering(socket: Socket): void {
  if (closing.has(socket)) return;
  closing.add(socket);
  socket.end();
  const destroyLater = () => {
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  };
  if (socket.writableFinished) destroyLater();
  else socket.once('finish', destroyLater);
}

/** The gateway's error answer: API Gateway's `{"message": …}` body, after which the connection closes. */
function errorAnswer(status: number): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ message: STATUS_CODES[status] });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'apigw-requestid': randomUUID(),
      connection: 'close',
    },
  };
}

function rawErrorAnswer(status: number): string {
  const { body, headers } = errorAnswer(status);
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join('')}\r\n${body}`;
}

/** Node's status for a client error; any other that does not parse is a 400. */
const CLIENT_ERROR_STATUS: Readonly<Record<string, number>> = {
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
};

/**
 * The gateway's open connections and the answers each still owes, oldest first: answers a
 * request that stalls or does not parse, and closes connections for a stop without a reset.
 */
export class GatewayConnections {
  private readonly open = new Map<Socket, ServerResponse[]>();
  /** When each connection last owed no answer (since it opened, or since its last answer). */
  private readonly idleSince = new WeakMap<Socket, number>();
  private changed: (() => void) | undefined;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.open.set(socket, []);
      this.idleSince.set(socket, Date.now());
      // Node's server calls destroySoon() once an answer that closes its connection is out
      // (`connection: close`, ours or the client's): a body left unread is discarded, never buffered.
      socket.destroySoon = () => closeLingering(socket);
      socket.once('close', () => {
        this.open.delete(socket);
        this.changed?.();
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.clientError(error, socket));
    // A kept-alive connection idle for keepAliveTimeout, which Node would destroy.
    server.on('timeout', (socket: Socket) => closeLingering(socket));
  }

  /** Connections open, lingering ones included. */
  get size(): number {
    return this.open.size;
  }

  /** Answers owed: requests taken whose answer is not out yet. */
  get owed(): number {
    let owed = 0;
    for (const answers of this.open.values()) owed += answers.length;
    return owed;
  }

  /**
   * Takes a request's answer into account. False when the request arrived on a connection
   * this side has ended already: it is discarded unanswered (its client sees the connection
   * close before any answer, and may send it again), since nothing can be written there.
   */
  admit(req: IncomingMessage, res: ServerResponse): boolean {
    const socket = req.socket as Socket;
    const answers = this.open.get(socket);
    if (!answers || isClosing(socket)) {
      req.resume();
      return false;
    }
    answers.push(res);
    res.once('close', () => {
      const at = answers.indexOf(res);
      if (at >= 0) answers.splice(at, 1);
      if (answers.length === 0) this.idleSince.set(socket, Date.now());
      this.changed?.();
    });
    return true;
  }

  /** Makes each answer not started yet close its connection once it is out. */
  closeAfterAnswers(): void {
    for (const answers of this.open.values()) for (const res of answers) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Ends, lingering, each connection that owes no answer once it has been idle for `graceMs`;
   * a request that comes sooner is answered first (and its answer closes the connection).
   */
  closeIdle(graceMs: number): void {
    const now = Date.now();
    for (const [socket, answers] of this.open) {
      if (answers.length > 0 || closing.has(socket)) continue;
      const left = (this.idleSince.get(socket) ?? now) + graceMs - now;
      // A socket timeout ends in Node's 'timeout', and so in closeLingering (see the constructor);
      // a request arriving meanwhile clears it.
      if (left > 0) socket.setTimeout(left);
      else closeLingering(socket);
    }
  }

  /** Destroys every connection left; how many there were. */
  destroyAll(): number {
    const left = this.open.size;
    for (const socket of this.open.keys()) socket.destroy();
    return left;
  }

  /** Resolves true once `condition` holds (checked whenever an answer or a connection ends), or false at `deadline`. */
  async until(condition: () => boolean, deadline: number): Promise<boolean> {
    try {
      while (!condition()) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          this.changed = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return true;
    } finally {
      this.changed = undefined;
    }
  }

  private clientError(error: NodeJS.ErrnoException, socket: Socket): void {
    if (closing.has(socket)) return; // answered and closing: what else arrives is discarded
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy(); // the client is gone
    this.answerError(socket, CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400);
  }

  /**
   * Answers a request that stalled or did not parse, then closes the connection. When the one
   * that stalled is a request taken already (its body stopped), its own answer is the 408; an
   * answer owed to an earlier request on the connection (a function still running, or its
   * bytes going out) goes out first: a slow function is never cut by these timeouts.
   */
  private answerError(socket: Socket, status: number): void {
    if (isClosing(socket)) return;
    const current = this.open.get(socket)?.[0];
    if (!current) {
      socket.write(rawErrorAnswer(status));
      return closeLingering(socket);
    }
    if (!current.headersSent && !current.req.complete) {
      const { body, headers } = errorAnswer(status);
      current.writeHead(status, headers);
      return void current.end(body);
    }
    current.once('close', () => this.answerError(socket, status));
  }
}
