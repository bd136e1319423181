/**
 * The WebSocket monitoring protocol's AsyncAPI 3.0 document, built from the zod schemas the
 * frames are typed by (frame-schemas.ts), with examples built by frames.ts itself, so that the
 * document cannot drift from what is sent. Static for a build: bin/generate-contracts.ts writes it.
 *
 * Payloads are in AsyncAPI's default schema format (the AsyncAPI Schema Object, a superset of
 * JSON Schema draft-07), as zod writes draft-07: every AsyncAPI tool reads that format without
 * a schema parser of its own, whereas JSON Schema 2020-12 is not a format AsyncAPI 3.0 lists.
 */
import * as z from 'zod/mini';
import * as S from './frame-schemas';
import { frame, MAX_FRAME_BYTES, missedOf, PROTOCOL_VERSION, recordsFrames } from './frames';
import type { StoredRecord } from './record';

type Json = Record<string, unknown>;

/** A zod schema as a draft-07 schema without its own `$schema` (the document says the format). */
function payload(type: z.ZodMiniType, io: 'input' | 'output' = 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(type, { target: 'draft-7', io, unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (pointer: string) => ({ $ref: `#/${pointer}` });
const CHANNEL = 'monitor';
const channelMessage = (name: string) => ref(`channels/${CHANNEL}/messages/${name}`);

/** Records of two owners, one of them from an upload of its own: every shape a records frame has. */
const SAMPLE_RECORDS: readonly StoredRecord[] = [
  { id: '0190a5e4-8c3b-7d2e-9f10-1a2b3c4d5e6f', user_id: 'parsa', data: 42, date: '2024-05-01T10:00:00.123456Z', accepted_at: '2024-05-01T10:00:01Z', stored_at: '2024-05-01T10:00:01.5Z' },
  { id: '0190a5e4-8c3b-7d2e-9f10-1a2b3c4d5e70', user_id: 'parsa', data: -7, date: '2024-05-01T10:00:00.5Z', accepted_at: '2024-05-01T10:00:01.2Z', stored_at: '2024-05-01T10:00:01.5Z' },
  { id: '0190a5e4-8c3b-7d2e-9f10-1a2b3c4d5e71', user_id: 'ana', data: 3, date: '2024-05-01T10:00:00Z', accepted_at: '2024-05-01T10:00:01.1Z', stored_at: '2024-05-01T10:00:01.5Z' },
];

/** Each frame kind as frames.ts writes it, parsed. */
function examples(): Record<keyof typeof S.SERVER_FRAMES, Json> {
  const parse = (text: string) => JSON.parse(text) as Json;
  return {
    records: parse(recordsFrames(SAMPLE_RECORDS)[0]!.data),
    status: parse(frame({ type: 'status', level: 'error', stage: 'store', message: 'Storing 120 records failed; they will be retried.', pending: 120 })),
    pong: parse(frame({ type: 'pong', time: '2024-05-01T10:00:04.123Z' })),
    missed: parse(frame({ type: 'missed', ...missedOf(SAMPLE_RECORDS) })),
    error: parse(frame({ type: 'error', code: 'unknown_action', message: 'Unknown action "subscribe"; the only action is "ping". Records arrive on their own.' })),
  };
}

const TITLES: Record<keyof typeof S.SERVER_FRAMES, string> = {
  records: 'Records stored',
  status: 'Pipeline status (admins)',
  pong: 'Pong',
  missed: 'Records missed',
  error: 'Error',
};

function messages(): Record<string, Json> {
  const example = examples();
  const server = Object.fromEntries(
    Object.entries(S.SERVER_FRAMES).map(([name, schema]) => {
      const kind = name as keyof typeof S.SERVER_FRAMES;
      return [kind, { name: kind, title: TITLES[kind], payload: payload(schema), examples: [{ name: kind, payload: example[kind] }] }];
    }),
  );
  return {
    ...server,
    gatewayError: {
      name: 'gatewayError',
      title: "API Gateway's own message",
      payload: payload(S.GatewayMessage),
      examples: [{ name: 'gatewayError', payload: { message: 'Internal server error', connectionId: 'L0SM9cOFvHcCIhw=', requestId: 'L0SMAG0mvHcFk7g=' } }],
    },
    ping: { name: 'ping', title: 'Ping', payload: payload(S.PingAction, 'input'), examples: [{ name: 'ping', payload: { action: 'ping' } }] },
  };
}

const CHANNEL_DESCRIPTION =
  'The monitoring connection. Open it with the access token in the `token` query parameter (`/?token=<access_token>`, a bearer ' +
  'token from POST /auth/token; browsers cannot set headers on a WebSocket): a missing or bad token is refused with 401 during the ' +
  'handshake, and the connection never opens. An admin receives every user\'s records, anyone else only their own. ' +
  `Every frame the application sends carries \`protocol_version\` (${PROTOCOL_VERSION}); frames are JSON text, at most ${MAX_FRAME_BYTES / 1024} KB each.`;

function channel(messageNames: readonly string[]): Json {
  return {
    address: '/',
    title: 'Monitoring connection',
    description: CHANNEL_DESCRIPTION,
    messages: Object.fromEntries(messageNames.map((name) => [name, ref(`components/messages/${name}`)])),
    bindings: {
      ws: {
        method: 'GET',
        query: {
          type: 'object',
          properties: { token: { type: 'string', minLength: 1, description: 'An access token from POST /auth/token (Cognito on AWS).' } },
          required: ['token'],
        },
        bindingVersion: '0.1.0',
      },
    },
  };
}

/** What the application does on the channel: built anew for each document, which its caller may change. */
function operations(): Record<string, Json> {
  return {
    sendRecords: {
      action: 'send',
      channel: ref(`channels/${CHANNEL}`),
      summary: 'Newly stored records, pushed as each batch is stored',
      messages: [channelMessage('records')],
    },
    sendMissed: {
      action: 'send',
      channel: ref(`channels/${CHANNEL}`),
      summary: 'What this connection did not get: before its next records frame, or on its next ping',
      messages: [channelMessage('missed')],
    },
    sendStatus: {
      action: 'send',
      channel: ref(`channels/${CHANNEL}`),
      summary: "The pipeline's state, to admin connections: for example a batch that failed to store",
      messages: [channelMessage('status')],
    },
    receivePing: {
      action: 'receive',
      channel: ref(`channels/${CHANNEL}`),
      summary: 'A ping, answered with a pong',
      description:
        'Ping at least every few minutes: API Gateway closes a connection idle for 10 minutes. A connection owed a missed frame is sent it before the pong. ' +
        'A message that is not a ping is answered with an error frame; API Gateway answers with its own message when the function behind it fails or the connection sends too fast.',
      messages: [channelMessage('ping')],
      reply: { channel: ref(`channels/${CHANNEL}`), messages: [channelMessage('pong'), channelMessage('error'), channelMessage('gatewayError')] },
    },
  };
}

/** The serverless WebSocket URL as an AsyncAPI server (host and pathname apart). */
function server(url: string): Json {
  const parsed = new URL(url);
  return {
    host: parsed.host,
    protocol: parsed.protocol.replace(/:$/, ''),
    ...(parsed.pathname && parsed.pathname !== '/' ? { pathname: parsed.pathname.replace(/\/$/, '') } : {}),
    description: 'The WebSocket API (API Gateway on AWS, the local gateway under `npm start`).',
  };
}

/** The document. `serverUrl` is the WebSocket API's URL (wss://…/stage), when known. */
export function asyncApiDocument(serverUrl?: string): Json {
  const all = messages();
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'data-handler monitoring WebSocket API',
      version: String(PROTOCOL_VERSION),
      description:
        'Stored records pushed to monitoring clients as they are stored, with what a monitor must do to see every record it may see ' +
        '(dedupe by id, fetch missed spans, catch up after a reconnect, ping): see docs/monitoring-protocol.md. ' +
        'The version is the protocol version that every frame carries as `protocol_version`.',
    },
    ...(serverUrl ? { servers: { monitoring: server(serverUrl) } } : {}),
    defaultContentType: 'application/json',
    channels: { [CHANNEL]: channel(Object.keys(all)) },
    operations: operations(),
    components: { messages: all },
  };
}
