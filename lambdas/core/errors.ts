/**
 * Typed failures. An HTTP-facing error carries its status, a stable code and a public message;
 * anything else is logged and becomes a generic 500.
 */

/** One problem with one field of the input. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `records.3.date`; empty for the body itself. */
  readonly path: string;
  readonly message: string;
}

/** Base class for errors whose message is safe to show to the client. */
export abstract class PublicError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  readonly details?: readonly FieldIssue[];
  constructor(message: string, details?: readonly FieldIssue[]) {
    super(message);
    if (details) this.details = details;
  }
}

export class ValidationError extends PublicError {
  override readonly name = 'ValidationError';
  readonly status = 400;
  readonly code = 'validation_failed';
}

export class InvalidJsonError extends PublicError {
  override readonly name = 'InvalidJsonError';
  readonly status = 400;
  readonly code = 'invalid_json';
}

export class UnauthorizedError extends PublicError {
  override readonly name = 'UnauthorizedError';
  readonly status = 401;
  readonly code = 'unauthorized';
}

export class PayloadTooLargeError extends PublicError {
  override readonly name = 'PayloadTooLargeError';
  readonly status = 413;
  readonly code = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends PublicError {
  override readonly name = 'UnsupportedMediaTypeError';
  readonly status = 415;
  readonly code = 'unsupported_media_type';
}

export class QueueUnavailableError extends PublicError {
  override readonly name = 'QueueUnavailableError';
  readonly status = 503;
  readonly code = 'queue_unavailable';
  constructor(cause: unknown) {
    super('The queue did not accept the records; nothing was accepted. Retry later.');
    this.cause = cause;
  }
}

/** The store could not write a batch; the batch's messages are returned to the queue. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(cause: unknown) {
    super(`store failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.cause = cause;
  }
}

/** A queue message whose body is not a record batch; it goes to the DLQ, never to the store. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError';
}

/**
 * A post that may go through when tried again after a pause: throttled (HTTP 429), a server
 * error (5xx) or a network failure or timeout. The fan-out's back-off is the only retry policy.
 */
export class RetryablePostError extends Error {
  override readonly name: string = 'RetryablePostError';
}

/** The management API throttled a post (HTTP 429). */
export class ThrottledError extends RetryablePostError {
  override readonly name = 'ThrottledError';
}
