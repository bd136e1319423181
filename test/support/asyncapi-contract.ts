/**
 * Checks against the monitoring protocol's AsyncAPI document: the document against the official
 * AsyncAPI 3.0.0 JSON Schema (@asyncapi/specs), and a frame, as text, against the payload schema
 * of the message that the document gives for its `type`. Ajv's draft-07 validator reads the
 * payloads: they are AsyncAPI Schema Objects, JSON Schema draft-07 with a few keywords added.
 *
 * Reusable by a contract test against a running stack: pass the document it serves.
 */
import specs from '@asyncapi/specs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { asyncApiDocument } from '../../lambdas/core/asyncapi';

type Json = Record<string, unknown>;
type Ref = { $ref: string };
interface Operation {
  action: 'send' | 'receive';
  messages?: Ref[];
  reply?: { messages?: Ref[] };
}

const newAjv = (options: { meta?: boolean } = {}) => {
  const ajv = new Ajv({ strict: false, allErrors: true, ...options });
  (addFormats as unknown as (a: Ajv) => void)(ajv);
  return ajv;
};

let documentSchema: ValidateFunction | undefined;

/** What keeps `document` from being a valid AsyncAPI 3.0.0 document: empty when it is one. */
export function asyncApiErrors(document: unknown): string[] {
  // The specification's schema carries JSON Schema draft-07's own meta-schema (for payloads that
  // say they are draft-07), which would clash with the copy Ajv adds by default.
  documentSchema ??= newAjv({ meta: false }).compile(specs.schemas['3.0.0']);
  if (documentSchema(document)) return [];
  return (documentSchema.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The value a local `$ref` (`#/a/b`) points at, following references on the way; throws when it points at nothing. */
export function resolveRef(document: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`not a local reference: ${ref}`);
  let node: unknown = document;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    while (node && typeof node === 'object' && '$ref' in node) node = resolveRef(document, (node as Ref).$ref);
    node = node && typeof node === 'object' ? (node as Json)[key] : undefined;
    if (node === undefined) throw new Error(`${ref} points at nothing (no ${key})`);
  }
  while (node && typeof node === 'object' && '$ref' in node) node = resolveRef(document, (node as Ref).$ref);
  return node as Json;
}

/** A message with its payload's validator. */
interface Checked {
  readonly name: string;
  /** The payload's `type` constant; undefined for a message without one (API Gateway's own). */
  readonly type: string | undefined;
  readonly validate: ValidateFunction;
}

interface Contract {
  /** Messages the application sends: those of `send` operations and the replies of `receive` ones. */
  readonly server: readonly Checked[];
  /** Messages a client sends: those of `receive` operations. */
  readonly client: readonly Checked[];
}

const contracts = new WeakMap<object, Contract>();

function contractOf(document: Json): Contract {
  const known = contracts.get(document);
  if (known) return known;
  const ajv = newAjv();
  const compiled = new Map<string, Checked>();
  const checked = (ref: Ref): Checked => {
    const message = resolveRef(document, ref.$ref);
    const name = String(message.name ?? ref.$ref);
    const payload = message.payload as Json;
    let entry = compiled.get(name);
    if (!entry) {
      const type = ((payload.properties as Json | undefined)?.type as Json | undefined)?.const;
      entry = { name, type: typeof type === 'string' ? type : undefined, validate: ajv.compile(payload) };
      compiled.set(name, entry);
    }
    return entry;
  };
  const server = new Map<string, Checked>();
  const client = new Map<string, Checked>();
  for (const op of Object.values(document.operations as Record<string, Operation>)) {
    const sent = op.action === 'send' ? (op.messages ?? []) : (op.reply?.messages ?? []);
    for (const ref of sent) server.set(ref.$ref, checked(ref));
    if (op.action === 'receive') for (const ref of op.messages ?? []) client.set(ref.$ref, checked(ref));
  }
  const contract = { server: [...new Set(server.values())], client: [...new Set(client.values())] };
  contracts.set(document, contract);
  return contract;
}

function errorsOf(candidates: readonly Checked[], value: unknown): string[] {
  const errors: string[] = [];
  for (const c of candidates) {
    if (c.validate(value)) return [];
    for (const e of c.validate.errors ?? []) errors.push(`${c.name}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }
  return errors;
}

function parsed(json: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(json) };
  } catch (error) {
    return { error: `not JSON: ${(error as Error).message}` };
  }
}

/**
 * What is wrong with a frame the server sent (its text, as received), against the document's
 * message for its `type` (a frame without one against the messages without one: API Gateway's
 * own): empty when it is valid.
 */
export function validateFrame(frameJson: string, document: Json = defaultDocument()): string[] {
  const read = parsed(frameJson);
  if ('error' in read) return [read.error];
  const type = typeof read.value === 'object' && read.value !== null ? (read.value as Json).type : undefined;
  const candidates = contractOf(document).server.filter((c) => c.type === (typeof type === 'string' ? type : undefined));
  if (candidates.length === 0) return [`the document has no message of the server with type ${JSON.stringify(type ?? null)}`];
  return errorsOf(candidates, read.value);
}

/** What is wrong with a message a client sends (its text), against the messages the application receives: empty when valid. */
export function validateClientMessage(json: string, document: Json = defaultDocument()): string[] {
  const read = parsed(json);
  if ('error' in read) return [read.error];
  return errorsOf(contractOf(document).client, read.value);
}

/** The names of the messages the application sends, by payload `type` (undefined: no type). */
export function serverMessageTypes(document: Json = defaultDocument()): (string | undefined)[] {
  return contractOf(document).server.map((c) => c.type);
}

let built: Json | undefined;
function defaultDocument(): Json {
  return (built ??= asyncApiDocument());
}
