/**
 * An emulation of one call of AWS Secrets Manager, which has no local equivalent in this
 * project: `GetSecretValue` in the AWS JSON 1.1 protocol the SDK speaks, on 127.0.0.1, for the
 * secrets it is given. The functions' own SDK client calls it through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER; requests signed with any other key than the local-only
 * one are refused, so a test cannot pass by reaching for real credentials.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_AWS_CREDENTIALS } from '../../local/bindings';

export interface EmulatedSecret {
  readonly arn: string;
  readonly name: string;
  /** The SecretString, as RDS writes it: JSON with username, password, host, … */
  readonly value: Record<string, unknown>;
}

export interface SecretsManagerEmulator {
  readonly endpoint: string;
  /** SecretIds asked for, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

const TARGET = 'secretsmanager.GetSecretValue';

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(JSON.stringify(errorType ? { __type: errorType, ...(body as object) } : body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves `secrets` (found by ARN or name) until stopped. */
export async function startSecretsManagerEmulator(secrets: readonly EmulatedSecret[]): Promise<SecretsManagerEmulator> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      if (!String(req.headers.authorization ?? '').includes(`Credential=${LOCAL_AWS_CREDENTIALS.accessKeyId}/`)) {
        return send(res, 403, { message: 'Only the local-only credentials are accepted here.' }, 'UnrecognizedClientException');
      }
      if (req.method !== 'POST' || req.headers['x-amz-target'] !== TARGET) {
        return send(res, 400, { message: `${String(req.headers['x-amz-target'])} is not emulated; only ${TARGET} is.` }, 'UnknownOperationException');
      }
      let secretId: unknown;
      try {
        secretId = (JSON.parse(body) as { SecretId?: unknown }).SecretId;
      } catch {
        return send(res, 400, { message: 'The request body is not JSON.' }, 'SerializationException');
      }
      requests.push(String(secretId));
      const secret = secrets.find((s) => s.arn === secretId || s.name === secretId);
      if (!secret) return send(res, 400, { message: "Secrets Manager can't find the specified secret." }, 'ResourceNotFoundException');
      send(res, 200, {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: JSON.stringify(secret.value),
        VersionId: '00000000-0000-4000-8000-000000000000',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: Math.floor(Date.now() / 1000),
      });
    })().catch((error: unknown) => send(res, 500, { message: (error as Error).message }, 'InternalServiceError'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
