/**
 * The verifier's edge: a token must carry an expiry that has not passed, and its groups must be
 * a list of names Cognito could have given (what keeps the HTTP API's "[a b]" rendering exact).
 */
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtVerifier } from '../../../lambdas/adapters/jwt-verifier';

const CLIENT_ID = 'app-client-1';
const ACCESS = { token_use: 'access', client_id: CLIENT_ID };
let server: Server;
let issuer: string;
let privateKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey;
  const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A token signed by the trusted key; `expires` as jose takes it, or null for none. */
function sign(claims: JWTPayload, expires: string | number | null = '5m') {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setSubject('alice').setIssuedAt();
  return (expires === null ? jwt : jwt.setExpirationTime(expires)).sign(privateKey);
}

const verifier = () => new JwtVerifier({ issuer, audience: CLIENT_ID, jwksUrl: `${issuer}/.well-known/jwks.json` });

describe('the JWT verifier at the edge', () => {
  it('refuses a well-signed access token that has no exp', async () => {
    // Arrange
    const token = await sign(ACCESS, null);
    // Act
    const verifying = verifier().verify(token);
    // Assert
    await expect(verifying).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401 });
  });

  it('refuses a token that expired a minute ago', async () => {
    const token = await sign(ACCESS, Math.floor(Date.now() / 1000) - 60);
    await expect(verifier().verify(token)).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401 });
  });

  it('refuses a token whose exp is not a number', async () => {
    const token = await sign({ ...ACCESS, exp: 'never' as unknown as number }, null);
    await expect(verifier().verify(token)).rejects.toMatchObject({ name: 'UnauthorizedError' });
  });

  it('accepts the same token with an expiry ahead', async () => {
    const token = await sign({ ...ACCESS, 'cognito:groups': ['ops,admin', 'users'] });
    await expect(verifier().verify(token)).resolves.toMatchObject({ userId: 'alice', isAdmin: false });
  });

  it.each([
    [['not admin']],
    [['ops', 'admin ']],
    [['ops\tadmin']],
    ['admin'],
    ['[admin]'],
    [[['admin']]],
    [[1]],
  ])('refuses a token whose cognito:groups is %j: Cognito never issues that', async (groups) => {
    // Arrange
    const token = await sign({ ...ACCESS, 'cognito:groups': groups });
    // Act
    const verifying = verifier().verify(token);
    // Assert
    await expect(verifying).rejects.toMatchObject({ name: 'UnauthorizedError', message: 'The token is not valid.' });
  });

  it('accepts a token without groups and one with an empty list, as not admin', async () => {
    await expect(verifier().verify(await sign(ACCESS))).resolves.toMatchObject({ isAdmin: false });
    await expect(verifier().verify(await sign({ ...ACCESS, 'cognito:groups': [] }))).resolves.toMatchObject({ isAdmin: false });
  });
});
