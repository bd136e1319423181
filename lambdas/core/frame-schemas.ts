/**
 * The WebSocket monitoring protocol's shapes as zod schemas: every frame the server sends, as it
 * is on the wire (with its protocol version), and the one message a monitor sends, `ping`.
 * frames.ts takes its types from these, and the AsyncAPI document (asyncapi.ts) its payloads,
 * so that the frames built and the frames documented cannot drift apart.
 */
import * as z from 'zod/mini';
import { PROTOCOL_VERSION } from './frames';

const described = <T extends z.ZodMiniType>(schema: T, description: string) => schema.check(z.meta({ description }));
const instant = (description: string) => described(z.string().check(z.meta({ format: 'date-time' })), description);
/** A count that is never 0 where it is sent (the field is left out instead). */
const positive = (description: string) => described(z.int().check(z.gte(1)), description);

/** The field every server frame carries: a client that does not know the number does not know the shape. */
export const ProtocolVersion = described(
  z.literal(PROTOCOL_VERSION),
  `The protocol version of this frame's shape (${PROTOCOL_VERSION}). A client that meets another number should not read the frame as a shape it knows.`,
);

/** A frame of the server: its `type`, the protocol version, and its own fields. */
function serverFrame<const T extends string, S extends z.core.$ZodLooseShape>(type: T, description: string, shape: S) {
  return described(z.object({ type: z.literal(type), protocol_version: ProtocolVersion, ...shape }), description);
}

export const FramedRecord = described(
  z.object({
    id: z.uuid(),
    data: z.int32(),
    date: instant("The record's own time, canonical UTC."),
    accepted_at: z.optional(instant("When the record's upload was accepted: only where it is not its group's (the record came in an upload of its own).")),
  }),
  'One record in a records frame: what was uploaded, with its id.',
);

export const RecordsGroup = described(
  z.object({
    user_id: described(z.string().check(z.minLength(1)), "The records' owner."),
    accepted_at: instant("When the group's upload was accepted; a record that carries its own was accepted then instead."),
    stored_at: instant("When the transaction that stored these records began: what a missed frame's span is measured in."),
    records: z.array(FramedRecord).check(z.minLength(1)),
  }),
  "Consecutive records with one owner stored by one statement (the same `stored_at`). A stored record is its group's fields with its own: `accepted_at` is the group's unless the record carries its own (records of other uploads do).",
);

export const RecordsFrame = serverFrame(
  'records',
  'Newly stored records that this connection may see (an admin all of them, anyone else their own), in the batch\'s order, grouped; a frame is at most 128 KB, a batch may take several. A record may come twice: pass each on once, by id.',
  { groups: z.array(RecordsGroup).check(z.minLength(1)) },
);

export const StatusFrame = serverFrame('status', "The pipeline's state, to admin connections only: for example that storing records is failing.", {
  level: z.enum(['error', 'warning', 'info']),
  stage: described(z.enum(['store', 'push']), 'Where it happened: storing records, or pushing them to monitors.'),
  message: z.string(),
  pending: described(z.int().check(z.gte(0)), 'Records waiting to be stored when this was sent.'),
  dead_lettered: z.optional(positive('Messages of this failure that were on their last receive: they are in the dead-letter queue, not retried.')),
});

export const PongFrame = serverFrame('pong', 'The answer to a ping.', {
  time: instant("The server's time (ISO-8601 UTC): where a monitor that has seen no record yet catches up from."),
});

export const MissedFrame = serverFrame(
  'missed',
  'Records this connection should have received but did not: frames that failed after retries or were not sent before the writer\'s deadline. ' +
    'They were all stored between `stored_from` and `stored_to` (inclusive); GET /api/data/records?time_field=stored_at with that window returns them ' +
    '(and possibly others already seen: dedupe by id). Sent before the next frames to this connection, or on its next ping (before the pong).',
  {
    count: positive('Records not delivered to this connection (repeats counted).'),
    stored_from: instant('The earliest `stored_at` of the records missed.'),
    stored_to: instant('The latest `stored_at` of the records missed.'),
  },
);

export const ErrorFrame = serverFrame('error', 'The answer to a message that is not a ping.', {
  code: described(z.enum(['invalid_json', 'unknown_action']), 'invalid_json: the message was not JSON; unknown_action: it was JSON, but its `action` is not "ping".'),
  message: z.string(),
});

/** The frames of the server, by `type`. */
export const SERVER_FRAMES = { records: RecordsFrame, status: StatusFrame, pong: PongFrame, missed: MissedFrame, error: ErrorFrame } as const;

/**
 * What API Gateway itself sends on the connection (not the application): when the function
 * behind a message fails ("Internal server error") or the connection sends too fast ("Too Many
 * Requests"). It has no `type` and no protocol version: it is the gateway's shape, not this protocol's.
 */
export const GatewayMessage = described(
  z.looseObject({ message: z.string(), connectionId: z.optional(z.string()), requestId: z.optional(z.string()) }),
  "API Gateway's own answer when the function behind a message failed or the connection was throttled: not a frame of this protocol (no type, no version).",
);

/** The one message a monitor sends. Other fields are ignored; anything else is answered with an error frame. */
export const PingAction = described(
  z.object({ action: z.literal('ping') }),
  'Keeps the connection open (API Gateway closes one idle for 10 minutes) and asks for the server\'s time: answered with a pong, and with a missed frame first when this connection is owed one.',
);
export type PingAction = z.output<typeof PingAction>;
