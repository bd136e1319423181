/**
 * The local identity (local/identity.ts) served the way Cognito serves a user pool from
 * `https://cognito-idp.<region>.amazonaws.com`: the user pool API (InitiateAuth, answered by
 * local/cognito.ts) on POST /, and each pool's issuer and JWKS under `/<poolId>`. One host for
 * both, as on AWS, so the template's issuer URL maps to this server by its origin alone.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerCognito, COGNITO_TARGET_PREFIX } from '../../local/cognito';
import { LocalIdentity, type LocalUser } from '../../local/identity';

export interface CognitoEmulator {
  /** `http://127.0.0.1:<port>`: what `https://cognito-idp.<region>.amazonaws.com` becomes. */
  readonly endpoint: string;
  /** The user pool's issuer (`<endpoint>/<poolId>`). */
  readonly issuer: string;
  readonly clientId: string;
  readonly identity: LocalIdentity;
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts one user pool (`poolId`) with one app client (`clientId`) and `users`. */
export async function startCognitoEmulator(options: { poolId: string; clientId: string; users: readonly LocalUser[] }): Promise<CognitoEmulator> {
  let identity: LocalIdentity | undefined;
  const server = createServer((req, res) => {
    void (async () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      if (req.method === 'POST' && target.startsWith(COGNITO_TARGET_PREFIX)) {
        const answer = await answerCognito(target, await readBody(req), identity!, options.clientId);
        res.writeHead(answer.status, answer.headers).end(answer.body);
      } else if (req.method === 'GET' && req.url === `/${options.poolId}/.well-known/jwks.json`) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(identity!.jwks));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `not emulated: ${req.method} ${req.url}` }));
      }
    })().catch((error: unknown) => res.writeHead(500).end(String(error)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const issuer = `${endpoint}/${options.poolId}`;
  identity = await LocalIdentity.create({ issuer, audience: options.clientId, users: options.users });
  return {
    endpoint,
    issuer,
    clientId: options.clientId,
    identity,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
