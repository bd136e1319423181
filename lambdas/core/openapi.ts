/**
 * The HTTP API's OpenAPI 3.1 document, built from the route table (routes.ts) and the zod
 * schemas the handlers validate with and answer in (api-schemas.ts), so that neither the
 * routes nor the shapes can drift from what runs. Served at GET /openapi.json.
 */
import * as z from 'zod/mini';
import { HTTP_ROUTES, type HttpRoute } from '../routes';
import * as S from './api-schemas';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_RECORDS_PER_REQUEST } from './record';

type Json = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without its own `$schema`. */
function schema(type: z.ZodMiniType, io: 'input' | 'output' = 'output'): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(type, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (s: Json) => ({ 'application/json': { schema: s } });
const answer = (description: string, s: Json) => ({ description, content: jsonContent(s) });
const failure = (description: string) => answer(description, ref('Error'));

const param = (name: keyof typeof S.QueryParameters, required = false) => ({
  name,
  in: 'query',
  required,
  schema: schema(S.QueryParameters[name]),
  description: (schema(S.QueryParameters[name]).description as string | undefined) ?? '',
});
const WINDOW = [param('start_time', true), param('end_time', true)];

const UNAUTHORIZED = answer('No valid bearer token (answered by the gateway before any function).', ref('GatewayError'));
const UNAVAILABLE = failure('A backing service is unavailable; retry after Retry-After seconds.');
const BAD_QUERY = failure('A query parameter is not valid; details name it.');

/** What each route does and answers, by "METHOD path". */
const OPERATIONS: Record<string, Json> = {
  'POST /api/data/upload': {
    operationId: 'uploadRecords',
    summary: 'Accept records: validated, queued, and answered at once',
    description: `Records are stored in bulk shortly after (the batch writer), and pushed to monitors. Up to ${MAX_RECORDS_PER_REQUEST} records and 1 MiB per request.`,
    parameters: [
      {
        name: 'Idempotency-Key',
        in: 'header',
        required: false,
        description: 'Makes a retry safe: the same key with the same body answers the same ids and stores nothing twice (24 hours).',
        schema: { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_LENGTH, pattern: '^[\\x21-\\x7e]+$' },
      },
    ],
    requestBody: { required: true, content: jsonContent(ref('UploadBody')) },
    responses: {
      202: answer('Accepted: every record is stored, or kept in the dead-letter queue with its reason.', ref('UploadAccepted')),
      400: failure('The body is not JSON, or a record is not valid; details name each field.'),
      401: UNAUTHORIZED,
      413: answer('The body is over 1 MiB (or over the gateway limit of 10 MB).', { anyOf: [ref('Error'), ref('GatewayError')] }),
      415: failure('The body is not application/json.'),
      422: failure('The Idempotency-Key was used with another body.'),
      503: UNAVAILABLE,
    },
  },
  'GET /api/data/records': {
    operationId: 'listRecords',
    summary: 'Stored records of a time window, a keyset page at a time',
    parameters: [...WINDOW, param('limit'), param('cursor'), param('user_id'), param('time_field'), param('order')],
    responses: { 200: answer('A page of records.', ref('RecordsPage')), 400: BAD_QUERY, 401: UNAUTHORIZED, 503: UNAVAILABLE },
  },
  'GET /api/data/swing-analyze': {
    operationId: 'analyzeSwings',
    summary: 'The swing analysis of a time window',
    parameters: [...WINDOW, param('user_id'), param('include')],
    responses: { 200: answer('The signals, or why there are none.', ref('SwingAnalysis')), 400: BAD_QUERY, 401: UNAUTHORIZED, 503: UNAVAILABLE },
  },
  'GET /api/data/series': {
    operationId: 'recordSeries',
    summary: 'Count, min, max and average of data per time bucket of a window',
    parameters: [...WINDOW, param('bucket'), param('user_id'), param('group_by')],
    responses: { 200: answer('The non-empty buckets.', ref('Series')), 400: BAD_QUERY, 401: UNAUTHORIZED, 503: UNAVAILABLE },
  },
  'GET /api/pipeline/status': {
    operationId: 'pipelineStatus',
    summary: "The queue's and the dead-letter queue's counts, and the writer's last batch and failure (admins)",
    responses: { 200: answer('The status.', ref('PipelineStatus')), 401: UNAUTHORIZED, 403: failure('The caller is not an admin.'), 503: UNAVAILABLE },
  },
  'POST /auth/token': {
    operationId: 'logIn',
    summary: 'Exchange a username and password for a bearer token',
    requestBody: { required: true, content: jsonContent(ref('Credentials')) },
    responses: {
      200: answer('The token.', ref('TokenGrant')),
      400: failure('The body is not valid; details name each field.'),
      401: failure('Wrong username or password.'),
      415: failure('The body is not application/json.'),
      429: failure('Too many failed logins; retry after Retry-After seconds.'),
    },
  },
  'GET /health': {
    operationId: 'health',
    summary: 'Readiness: whether a new database session answers now',
    description:
      'A probe opens a new PostgreSQL connection and runs SELECT 1 within its deadline (1.5 s to connect, 1.5 s to answer). ' +
      'Concurrent calls share one probe, and a verdict is reused for about a second.',
    responses: {
      200: answer('Ready.', ref('Health')),
      503: {
        ...answer('Not ready: the database did not take a new session in time (or, on the local stack, a service is restarting). The reason says which; retry after Retry-After seconds.', ref('Health')),
        headers: { 'Retry-After': { description: 'Seconds to wait before asking again.', schema: { type: 'integer', minimum: 1 } } },
      },
    },
  },
  'GET /openapi.json': {
    operationId: 'openApi',
    summary: 'This document',
    responses: { 200: { description: 'The OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
  'GET /asyncapi.json': {
    operationId: 'asyncApi',
    summary: 'The monitoring WebSocket protocol',
    description: 'The AsyncAPI 3.0 document of the monitoring WebSocket: its frames (each with protocol_version) and the ping action.',
    responses: { 200: { description: 'The AsyncAPI 3.0 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
  },
};

function operation(route: HttpRoute): Json {
  const key = `${route.method} ${route.path}`;
  const op = OPERATIONS[key];
  if (!op) throw new Error(`openapi: the route ${key} has no operation description`);
  return { ...op, ...(route.auth === 'jwt' ? { security: [{ bearer: [] }] } : { security: [] }) };
}

/** The document. `serverUrl` is the API's base URL, when known. */
export function openApiDocument(serverUrl?: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of HTTP_ROUTES) (paths[route.path] ??= {})[route.method.toLowerCase()] = operation(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'data-handler HTTP API',
      // 1.1: GET /api/data/series?group_by=user (docs/api.md lists the versions).
      version: '1.1',
      description: 'Accepts records over HTTPS, stores them in PostgreSQL in bulk, and answers queries over them. Monitoring is a WebSocket API of its own (see docs/monitoring-protocol.md).',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /auth/token (Cognito on AWS).' } },
      schemas: {
        UploadBody: schema(S.UploadBody, 'input'),
        Credentials: schema(S.Credentials, 'input'),
        UploadAccepted: schema(S.UploadAccepted),
        TokenGrant: schema(S.TokenGrant),
        Health: schema(S.Health),
        RecordsPage: schema(S.RecordsPage),
        SwingAnalysis: schema(S.SwingAnalysis),
        Series: schema(S.Series),
        PipelineStatus: schema(S.PipelineStatus),
        Error: schema(S.ErrorBody),
        GatewayError: schema(S.GatewayError),
      },
    },
  };
}
