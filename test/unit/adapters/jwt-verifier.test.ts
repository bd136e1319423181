/**
 * The token verifier of the WebSocket authorizer (and the local HTTP gateway) against a real
 * JWKS served over HTTP, with tokens shaped as Cognito issues them.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { JwtVerifier } from '../../../lambdas/adapters/jwt-verifier';

const CLIENT_ID = 'app-client-1';
let server: Server;
let issuer: string;
let sign: (claims: JWTPayload) => Promise<string>;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] };
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  sign = (claims) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(issuer).setSubject('alice').setIssuedAt().setExpirationTime('5m').sign(privateKey);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const verifier = () => new JwtVerifier({ issuer, audience: CLIENT_ID, jwksUrl: `${issuer}/.well-known/jwks.json` });

describe('the JWT verifier', () => {
  it('accepts a Cognito access token for its app client', async () => {
    // Arrange
    const token = await sign({ token_use: 'access', client_id: CLIENT_ID, username: 'alice', 'cognito:groups': ['admin'] });
    // Act
    const principal = await verifier().verify(token);
    // Assert
    expect(principal.claims.sub).toBe('alice');
  });

  it('refuses a Cognito ID token for the same app client: APIs take access tokens only', async () => {
    const idToken = await sign({ token_use: 'id', aud: CLIENT_ID, 'cognito:username': 'alice', email: 'alice@example.org' });
    await expect(verifier().verify(idToken)).rejects.toMatchObject({ name: 'UnauthorizedError', status: 401, message: 'An access token is required.' });
  });

  it('refuses a token that does not say what it is for', async () => {
    const token = await sign({ client_id: CLIENT_ID });
    await expect(verifier().verify(token)).rejects.toMatchObject({ name: 'UnauthorizedError', message: 'An access token is required.' });
  });

  it('refuses an access token of another app client', async () => {
    const token = await sign({ token_use: 'access', client_id: 'another-client' });
    await expect(verifier().verify(token)).rejects.toMatchObject({ name: 'UnauthorizedError', message: 'The token is not for this API.' });
  });

  it('checks a token\'s signature once, and answers it again from memory until it expires', async () => {
    // Arrange: a clock of the test's own; the signature checks counted (a spy, nothing replaced).
    let now = Date.now();
    const checker = new JwtVerifier({ issuer, audience: CLIENT_ID, jwksUrl: `${issuer}/.well-known/jwks.json`, now: () => now });
    const token = await sign({ token_use: 'access', client_id: CLIENT_ID, username: 'alice' });
    const signatures = vi.spyOn(crypto.subtle, 'verify');
    try {
      // Act
      const first = await checker.verify(token);
      const again = await checker.verify(token);

      // Assert: one check for both; past its expiry (5 minutes) the kept token is refused.
      expect(again).toEqual(first);
      expect(signatures).toHaveBeenCalledTimes(1);
      now += 5 * 60_000 + 1_000;
      await expect(checker.verify(token)).rejects.toMatchObject({ name: 'UnauthorizedError', message: 'The token is not valid.' });
      expect(checker.cachedTokens).toBe(0);
    } finally {
      signatures.mockRestore();
    }
  });

  it('keeps a bounded number of tokens, the least recently used going first, and never a refused one', async () => {
    const checker = new JwtVerifier({ issuer, audience: CLIENT_ID, jwksUrl: `${issuer}/.well-known/jwks.json`, maxVerifiedTokens: 2 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => sign({ token_use: 'access', client_id: CLIENT_ID, username: name })));
    await checker.verify(a!);
    await checker.verify(b!);
    await checker.verify(a!); // a is now the most recently used
    await checker.verify(c!); // b goes
    expect(checker.cachedTokens).toBe(2);
    const signatures = vi.spyOn(crypto.subtle, 'verify');
    try {
      await checker.verify(a!);
      expect(signatures).toHaveBeenCalledTimes(0);
      await checker.verify(b!);
      expect(signatures).toHaveBeenCalledTimes(1);
    } finally {
      signatures.mockRestore();
    }
    await expect(checker.verify(await sign({ token_use: 'id', aud: CLIENT_ID }))).rejects.toMatchObject({ status: 401 });
    expect(checker.cachedTokens).toBe(2);
  });
});
