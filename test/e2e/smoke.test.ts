/**
 * `npm run smoke` against a whole local stack, through the same outputs file CDK writes: the
 * check passes step by step on a healthy stack, and a wrong password stops it at the log-in
 * step with a clear reason, a non-zero exit code, and the password nowhere in the output.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { LOCAL_STACK_NAME, readSmokeTarget, STEP_NAMES } from '../../bin/smoke-support';
import { runSmoke } from '../../bin/smoke-steps';
import { startTestStack } from '../support/stack';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const WRONG_PASSWORD = 'not-the-password-7f3a';

/** Runs `node --import tsx bin/smoke.ts …` from the repository, as `npm run smoke` does. */
function smokeCli(args: readonly string[], env: Record<string, string | undefined> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/smoke.ts', ...args], { cwd: REPO, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    // The command must end by itself; this only keeps a regression from hanging the run.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The ✓/✗ step lines of the CLI's output, by step name. */
const stepLines = (stdout: string) => stdout.split('\n').filter((line) => /^[✓✗] /.test(line));

describe('npm run smoke against the local stack', () => {
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  let dir: string;
  let outputsFile: string;

  beforeAll(async () => {
    stack = await startTestStack();
    dir = await mkdtemp(path.join(tmpdir(), 'dh-smoke-'));
    outputsFile = path.join(dir, 'outputs.json');
    // CDK's format; the HTTP URL ends in '/', as CDK's does.
    const outputs = { [LOCAL_STACK_NAME]: { HttpApiUrl: `${stack.httpUrl}/`, WebSocketUrl: stack.wsUrl } };
    await writeFile(outputsFile, JSON.stringify(outputs, null, 2));
  });
  afterAll(async () => {
    await stack?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes every step in order, from the outputs file, and reports each with its duration', async () => {
    // Arrange
    const target = readSmokeTarget(await readFile(outputsFile, 'utf8'), outputsFile);
    const lines: string[] = [];

    // Act
    const report = await runSmoke({ httpUrl: target.httpUrl, wsUrl: target.wsUrl, username: 'parsa', password: 'admin', timeoutMs: 20_000, log: (line) => lines.push(line) });

    // Assert
    expect(target).toEqual({ stack: LOCAL_STACK_NAME, httpUrl: stack.httpUrl, wsUrl: stack.wsUrl, local: true });
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => s.name)).toEqual([...STEP_NAMES]);
    for (const step of report.steps) expect(step.ms).toBeGreaterThanOrEqual(0);
    expect(report.steps.find((s) => s.name === 'pushed')?.detail).toMatch(/^3\/3 records arrived .*data and dates as sent/);
    expect(report.steps.find((s) => s.name === 'query back')?.detail).toMatch(/all 3 records, data and dates as sent/);
    expect(lines).toHaveLength(STEP_NAMES.length + 1);
    expect(lines.at(-1)).toMatch(/^✓ smoke check passed: all 7 steps in \d/);
  });

  it('runs as a command: exit code 0 and one ✓ line with a duration per step', async () => {
    const { code, stdout, stderr } = await smokeCli(['--outputs', outputsFile, '--username', 'parsa', '--password', 'admin'], { SMOKE_PASSWORD: undefined });

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stepLines(stdout);
    expect(lines).toHaveLength(STEP_NAMES.length + 1);
    STEP_NAMES.forEach((name, i) => expect(lines[i]).toMatch(new RegExp(`^✓ ${name}\\s+\\d+(\\.\\d)? ms  \\S`)));
    expect(lines.at(-1)).toMatch(/^✓ smoke check passed/);
  });

  it('checks the local stack with no arguments at all when <DATA_DIR>/outputs.json exists', async () => {
    // The local user's defaults apply because the outputs point at this machine.
    const { code, stdout } = await smokeCli([], { DATA_DIR: dir, SMOKE_PASSWORD: undefined, LOCAL_USERNAME: undefined, LOCAL_PASSWORD: undefined });

    expect(code).toBe(0);
    expect(stdout).toContain(`smoke check of ${LOCAL_STACK_NAME} (${outputsFile}) as parsa`);
    expect(stdout).toMatch(/^✓ smoke check passed/m);
  });

  it('fails at the pushed step, within its timeout, when the records never come back over the socket', async () => {
    // Arrange: the real HTTP API, but a monitoring socket that answers pings and pushes nothing.
    const silent = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    silent.on('connection', (client) => client.on('message', () => client.send(JSON.stringify({ type: 'pong' }))));
    await new Promise((resolve) => silent.once('listening', resolve));
    const closed = new Promise((resolve) => silent.on('connection', (client) => client.once('close', resolve)));
    try {
      // Act
      const report = await runSmoke({
        httpUrl: stack.httpUrl,
        wsUrl: `ws://127.0.0.1:${(silent.address() as { port: number }).port}`,
        username: 'parsa',
        password: 'admin',
        timeoutMs: 1_000,
      });

      // Assert: the upload was accepted, the wait ended on its bound, and the socket was let go.
      expect(report.ok).toBe(false);
      expect(report.steps.map((s) => [s.name, s.ok])).toEqual([['health', true], ['log in', true], ['connect', true], ['upload', true], ['pushed', false]]);
      expect(report.steps.at(-1)!.detail).toBe('3 of 3 uploaded records were not pushed back: not within 1000 ms');
      await closed;
    } finally {
      silent.close();
    }
  });

  describe('with a wrong password', () => {
    it('fails at the log-in step with the API\'s status and error, and runs nothing after it', async () => {
      const lines: string[] = [];

      const report = await runSmoke({ httpUrl: stack.httpUrl, wsUrl: stack.wsUrl, username: 'parsa', password: WRONG_PASSWORD, timeoutMs: 5_000, log: (line) => lines.push(line) });

      expect(report.ok).toBe(false);
      expect(report.steps.map((s) => [s.name, s.ok])).toEqual([['health', true], ['log in', false]]);
      expect(report.steps[1]!.detail).toMatch(/^POST \/auth\/token → 401 \{"error":\{"code":"unauthorized".*check the username and password/);
      expect(lines.at(-1)).toMatch(/^✗ smoke check failed at step 2 of 7 \(log in\)/);
      expect(lines.join('\n')).not.toContain(WRONG_PASSWORD);
    });

    it('as a command: exit code 1, a ✗ log-in line, and the password (from SMOKE_PASSWORD) printed nowhere', async () => {
      const { code, stdout, stderr } = await smokeCli(['--outputs', outputsFile, '--username', 'parsa'], { SMOKE_PASSWORD: WRONG_PASSWORD });

      expect(code).toBe(1);
      const lines = stepLines(stdout);
      expect(lines[0]).toMatch(/^✓ health/);
      expect(lines[1]).toMatch(/^✗ log in\s+\d+(\.\d)? ms  POST \/auth\/token → 401 .*Wrong username or password/);
      expect(lines.at(-1)).toMatch(/^✗ smoke check failed at step 2 of 7 \(log in\)/);
      expect(stdout + stderr).not.toContain(WRONG_PASSWORD);
    });
  });
});
