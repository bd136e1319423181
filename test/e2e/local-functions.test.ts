/**
 * The local stack runs the functions that deploy: each catalogued module's exported handler,
 * from its built bundle, in environments of its own, with nothing wired a second time.
 */
import { CognitoIdentityProviderClient, InitiateAuthCommand } from '@aws-sdk/client-cognito-identity-provider';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FUNCTION_SPECS } from '../../lambdas/functions';
import { PROJECT_ROOT } from '../../lib/bundling';
import { LOCAL_AWS_CREDENTIALS } from '../../local/bindings';
import { connectMonitor, login, startTestStack, waitFor } from '../support/stack';

describe('the functions of the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  const lines: string[] = [];

  beforeAll(async () => {
    // The functions' logs at info level, so each writes a line (for this file only: the worker
    // runs other files after it).
    vi.stubEnv('LOG_LEVEL', 'info');
    stack = await startTestStack({}, { functionOutput: (line) => lines.push(line) });
  });
  afterAll(async () => {
    await stack?.cleanup();
    vi.unstubAllEnvs();
  });

  it('runs each function from its bundle, in its own environment, and names it on each log line', async () => {
    const token = await login(stack.httpUrl);
    const monitor = await connectMonitor(stack.wsUrl, token);
    const upload = await fetch(`${stack.httpUrl}/api/data/upload`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ data: 7, date: '2024-05-05T00:00:00Z' }),
    });
    expect(upload.status).toBe(202);
    await monitor.waitFor(() => monitor.pushedIds().length === 1);
    await monitor.close();

    for (const name of ['auth-token', 'ws-authorizer', 'ws-connect', 'ingest', 'batch-writer'] as const) {
      expect(stack.functions.runtime(name).coldStarts, name).toBeGreaterThanOrEqual(1);
    }
    await waitFor(() => lines.some((l) => l.startsWith('[batch-writer] ') && l.includes('"message":"batch stored"')));
    const stored = JSON.parse(lines.find((l) => l.includes('"message":"batch stored"'))!.slice('[batch-writer] '.length));
    expect(stored).toMatchObject({ function_name: 'batch-writer', inserted: 1 });
  });

  it('answers Cognito\'s InitiateAuth from the local identity, as the login function\'s SDK client calls it', async () => {
    const cognito = new CognitoIdentityProviderClient({ endpoint: stack.httpUrl, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
    const initiate = (ClientId: string, PASSWORD: string) =>
      cognito.send(new InitiateAuthCommand({ ClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: 'parsa', PASSWORD } }));

    const ok = await initiate(stack.config.JWT_AUDIENCE, 'admin');
    const wrongPassword = await initiate(stack.config.JWT_AUDIENCE, 'nope').catch((e: Error) => e);
    const wrongClient = await initiate('someone-else', 'admin').catch((e: Error) => e);

    expect(ok.AuthenticationResult).toMatchObject({ AccessToken: expect.any(String), TokenType: 'Bearer' });
    expect(wrongPassword).toMatchObject({ name: 'NotAuthorizedException' });
    expect(wrongClient).toMatchObject({ name: 'ResourceNotFoundException' });
    cognito.destroy();
  });
});

describe('the local runtime\'s source', () => {
  it('wires no function a second time: no handler factory or handler module is imported in local/', async () => {
    const dir = path.join(PROJECT_ROOT, 'local');
    const offenders: string[] = [];
    for (const file of await readdir(dir)) {
      if (!/\.(ts|mjs)$/.test(file)) continue;
      const text = await readFile(path.join(dir, file), 'utf8');
      if (/\bmake\w+Handler\b/.test(text) || /lambdas\/handlers\//.test(text)) offenders.push(file);
    }
    expect(offenders).toEqual([]);
    expect(FUNCTION_SPECS.every((s) => s.entry.startsWith('lambdas/handlers/'))).toBe(true);
  });
});
