import { describe, expect, it } from 'vitest';
import { markedRecords, oneLine, parseSmokeArgs, readSmokeTarget, smokeCredentials, smokeTimeoutMs, stepLine, summaryLine, type SmokeArgs } from '../../bin/smoke-support';

const AWS = {
  HttpApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com/',
  WebSocketUrl: 'wss://def.execute-api.eu-west-1.amazonaws.com/live',
  UserPoolId: 'eu-west-1_x',
};
const noArgs: SmokeArgs = { outputs: undefined, stack: undefined, username: undefined, password: undefined, timeoutS: undefined };

describe('the smoke check\'s setup', () => {
  it('takes the only stack of a CDK outputs file, without the HTTP URL\'s trailing slash', () => {
    const target = readSmokeTarget(JSON.stringify({ DataHandler: AWS }), 'outputs.json');
    expect(target).toEqual({
      stack: 'DataHandler',
      httpUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
      wsUrl: 'wss://def.execute-api.eu-west-1.amazonaws.com/live',
      local: false,
    });
  });

  it('asks for --stack when the file holds several, and names what a stack lacks', () => {
    const two = JSON.stringify({ A: AWS, B: AWS });
    expect(() => readSmokeTarget(two, 'o.json')).toThrow('o.json holds 2 stacks (A, B): choose one with --stack NAME');
    expect(readSmokeTarget(two, 'o.json', 'B').stack).toBe('B');
    expect(() => readSmokeTarget(two, 'o.json', 'C')).toThrow('o.json has no stack "C"; its stacks: A, B');
    expect(() => readSmokeTarget(JSON.stringify({ A: { UserPoolId: 'x' } }), 'o.json')).toThrow('stack "A" in o.json has no HttpApiUrl or WebSocketUrl output (it has: UserPoolId)');
    expect(() => readSmokeTarget('{}', 'o.json')).toThrow('holds no stack outputs');
    expect(() => readSmokeTarget('[1]', 'o.json')).toThrow('is not a CDK outputs file');
    expect(() => readSmokeTarget('{', 'o.json')).toThrow('o.json is not JSON');
    expect(() => readSmokeTarget(JSON.stringify({ A: { ...AWS, WebSocketUrl: 'https://x' } }), 'o.json')).toThrow('WebSocketUrl output of stack "A" is not a ws:// or wss:// URL');
  });

  it('has a default user only for a stack on this machine; on AWS --username is required', () => {
    const local = readSmokeTarget(JSON.stringify({ DataHandlerLocal: { HttpApiUrl: 'http://127.0.0.1:3000/', WebSocketUrl: 'ws://127.0.0.1:3001' } }), 'o.json');
    const aws = readSmokeTarget(JSON.stringify({ DataHandler: AWS }), 'o.json');
    expect(smokeCredentials(local, noArgs, {})).toEqual({ username: 'parsa', password: 'admin' });
    expect(() => smokeCredentials(aws, noArgs, {})).toThrow('--username is required');
    // No password on AWS means "ask on the terminal"; SMOKE_PASSWORD or --password fill it.
    expect(smokeCredentials(aws, { ...noArgs, username: 'alice' }, {})).toEqual({ username: 'alice', password: undefined });
    expect(smokeCredentials(aws, { ...noArgs, username: 'alice' }, { SMOKE_PASSWORD: 'from-env' }).password).toBe('from-env');
    expect(smokeCredentials(aws, { ...noArgs, username: 'alice', password: 'flag' }, { SMOKE_PASSWORD: 'from-env' }).password).toBe('flag');
    expect(smokeTimeoutMs(aws, noArgs)).toBe(60_000);
    expect(smokeTimeoutMs(local, noArgs)).toBe(20_000);
    expect(smokeTimeoutMs(aws, { ...noArgs, timeoutS: 90 })).toBe(90_000);
  });

  it('refuses bad arguments by name', () => {
    expect(parseSmokeArgs(['--outputs', 'o.json', '--stack', 'S', '--timeout', '90'])).toEqual({
      kind: 'run',
      args: { outputs: 'o.json', stack: 'S', username: undefined, password: undefined, timeoutS: 90 },
    });
    const bad = parseSmokeArgs(['--timeout', '0', '--username', '']);
    expect(bad.kind === 'error' && bad.message).toMatch(/--username must not be empty[\s\S]*--timeout must be/);
    expect(parseSmokeArgs(['--nope']).kind).toBe('error');
    expect(parseSmokeArgs(['--help']).kind).toBe('help');
  });
});

describe('the smoke check\'s records and lines', () => {
  it('marks records with now, distinct microseconds never all zero, and int32 data', () => {
    const records = markedRecords(3, Date.parse('2025-06-01T12:00:00.000Z'));
    expect(records.map((r) => r.date.slice(0, 23))).toEqual(['2025-06-01T12:00:00.000', '2025-06-01T12:00:00.001', '2025-06-01T12:00:00.002']);
    for (const r of records) {
      // Six fractional digits, not all zero: the API writes such a date back unchanged.
      expect(r.date).toMatch(/^2025-06-01T12:00:00\.(?!000000)\d{6}Z$/);
      expect(Number.isInteger(r.data) && r.data >= -(2 ** 31) && r.data < 2 ** 31).toBe(true);
    }
  });

  it('prints ✓ or ✗, the step, its duration and what was seen', () => {
    expect(stepLine({ name: 'health', ok: true, ms: 12.34, detail: 'GET /health → 200' })).toBe('✓ health        12.3 ms  GET /health → 200');
    expect(stepLine({ name: 'query back', ok: false, ms: 1234.4, detail: 'why' })).toBe('✗ query back    1234 ms  why');
    const failed = { ok: false, totalMs: 50, steps: [{ name: 'health', ok: true, ms: 1, detail: '' }, { name: 'log in', ok: false, ms: 2, detail: '' }] } as const;
    expect(summaryLine(failed)).toBe('✗ smoke check failed at step 2 of 7 (log in) after 50.0 ms');
    expect(oneLine('{\n  "error": { "code": "x" }\n}')).toBe('{"error":{"code":"x"}}');
  });
});
