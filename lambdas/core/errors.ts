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

export class ForbiddenError extends PublicError {
  override readonly name = 'ForbiddenError';
  readonly status = 403;
  readonly code = 'forbidden';
}

/** A backing service (the queue, a table) did not answer: a 503 to retry. */
export class ServiceUnavailableError extends PublicError {
  override readonly name = 'ServiceUnavailableError';
  readonly status = 503;
  readonly code = 'service_unavailable';
  constructor(message: string, cause: unknown) {
    super(message);
    this.cause = cause;
  }
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

/**
 * An Idempotency-Key sent again with other records than the first time. Nothing is accepted:
 * a 202 would hand back the first request's ids and drop these values.
 */
export class IdempotencyKeyReusedError extends PublicError {
  override readonly name = 'IdempotencyKeyReusedError';
  readonly status = 422;
  readonly code = 'idempotency_key_reused';
  constructor() {
    super(
      'This Idempotency-Key header was already used with a different body in the last 24 hours; nothing was accepted. ' +
        'Send new records with a new Idempotency-Key, or resend exactly the same body to retry.',
    );
  }
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

/**
 * The store could not write a batch, through no fault of the data: the database was unreachable
 * (`unreachable`), or failed otherwise (a schema that is not there yet, a statement timeout, a
 * deadlock…). The batch's messages go back to the queue to be tried again later.
 */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(
    cause: unknown,
    /** Whether the database could not be reached at all: an outage rather than a failure. */
    readonly unreachable = false,
  ) {
    super(`store failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.cause = cause;
  }
}

/** What the database said when it refused data. */
export interface StoreRefusal {
  /** The server's message, e.g. `new row for relation "records" violates check constraint "…"`. */
  readonly reason: string;
  /** The SQLSTATE, e.g. 23514 for a CHECK constraint. */
  readonly sqlstate: string;
  /** The server's DETAIL line (it may quote the failing row), when it sent one. */
  readonly detail?: string;
  readonly constraint?: string;
}

/**
 * The database refused the data of a batch (a constraint, a bad value): the same rows fail the
 * same way every time, so the writer isolates the messages that hold them.
 */
export class RecordsRefusedError extends Error {
  override readonly name = 'RecordsRefusedError';
  constructor(
    readonly refusal: StoreRefusal,
    cause?: unknown,
  ) {
    super(`the database refused the records: ${refusal.reason}`);
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * The refusal carried by `error`, or undefined when it is not a refusal. Decided by name, not
 * `instanceof`, so an error from another copy of this module (a test's fresh import) counts too.
 */
export function refusalOf(error: unknown): StoreRefusal | undefined {
  return error instanceof Error && error.name === 'RecordsRefusedError' ? (error as RecordsRefusedError).refusal : undefined;
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

/**
 * The management API throttled a post (HTTP 429 LimitExceededException). API Gateway answers so
 * for the account's post rate and also when the connection's outgoing buffer is full: a client
 * that does not read.
 */
export class ThrottledError extends RetryablePostError {
  override readonly name = 'ThrottledError';
}

/** A post that got no answer within its deadline: given up, so that no client can hold a fan-out. */
export class PostTimeoutError extends RetryablePostError {
  override readonly name = 'PostTimeoutError';
}

/** A public error that the client may retry after a pause: answered with `Retry-After`. */
export abstract class RetryLaterError extends PublicError {
  /** Whole seconds the client should wait before trying again (the `Retry-After` header). */
  abstract readonly retryAfterSeconds: number;
}

/**
 * The database could not be reached (refused, timed out, shutting down, out of connections):
 * nothing is wrong with the request, so it is a 503 to retry, not a 500.
 */
export class DatabaseUnavailableError extends RetryLaterError {
  override readonly name = 'DatabaseUnavailableError';
  readonly status = 503;
  readonly code = 'database_unavailable';
  readonly retryAfterSeconds = 5;
  constructor(cause: unknown) {
    super('The database is unavailable right now; nothing is wrong with the request. Retry later.');
    this.cause = cause;
  }
}

/**
 * Too many failed logins for this username or from this address. The same answer whether the
 * user exists or not, and whichever of the two limits was reached.
 */
export class TooManyLoginAttemptsError extends RetryLaterError {
  override readonly name = 'TooManyLoginAttemptsError';
  readonly status = 429;
  readonly code = 'too_many_attempts';
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many failed logins; try again in ${retryAfterSeconds} s.`);
  }
}
