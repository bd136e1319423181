/**
 * Request bodies at the local HTTP gateway: read within a limit, after `100 Continue` only
 * when wanted, and, when a connection is closed with a body still unread, discarded rather
 * than buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long a connection closed with a body still unread keeps discarding what arrives. Closing
 * at once would answer the client's next bytes with a reset, which makes many clients (Node's
 * own http among them) drop the answer they had not read yet; so, as nginx's lingering close:
 * end our side after the answer, discard the rest, destroy after this at the latest.
 */
const LINGER_MS = 5_000;

/** Makes the server's close after this answer a lingering one (see LINGER_MS); the unread body is discarded, never buffered. */
export function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket;
  // Node's server calls destroySoon() once an answer with `connection: close` is out.
  socket.destroySoon = () => {
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
  };
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/** Reads the body, after `100 Continue` when the client waits for one (the gateway routes `checkContinue` to its request handler). */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new BodyTooLargeError());
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLargeError());
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
