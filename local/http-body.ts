/**
 * Request bodies at the local HTTP gateway: read within a limit, after `100 Continue` only
 * when wanted, and never past an answer that went out first. A connection closed with a body
 * still unread discards it rather than buffering it (see closeLingering in http-connections.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * The answer went out before the body arrived whole (the 408 for a body that stalled): the
 * request goes no further, even when the rest of its body arrives afterwards.
 */
export class AnsweredBeforeBodyError extends Error {
  override readonly name = 'AnsweredBeforeBodyError';
}

/** Reads the body, after `100 Continue` when the client waits for one (the gateway routes `checkContinue` to its request handler). */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new BodyTooLargeError());
    if (req.headers.expect?.toLowerCase() === '100-continue') res.writeContinue();
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return settle(() => reject(new BodyTooLargeError()));
      chunks.push(chunk);
    };
    const onEnd = () => settle(() => resolve(Buffer.concat(chunks)));
    const onError = (error: Error) => settle(() => reject(error));
    const onAnswered = () => settle(() => reject(new AnsweredBeforeBodyError()));
    // Once settled, whatever still arrives is discarded (the stream keeps flowing), never kept.
    const settle = (outcome: () => void) => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      res.off('finish', onAnswered);
      req.resume();
      outcome();
    };
    req.on('data', onData).on('end', onEnd).on('error', onError);
    res.once('finish', onAnswered);
  });
}
