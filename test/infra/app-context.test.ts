/**
 * bin/app.ts as `cdk synth -c key=value` runs it: the CLI hands the context (cdk.json's and the
 * command line's) to the app in CDK_CONTEXT_JSON, and the app writes the template to CDK_OUTDIR.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CDK_JSON_CONTEXT } from './stack';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const scratch = mkdtempSync(path.join(tmpdir(), 'dh-app-'));

/** Synthesizes bin/app.ts with `context` (strings, as on the command line) and no bundling. */
async function synthApp(context: Record<string, string>) {
  const outdir = mkdtempSync(path.join(scratch, 'out-'));
  await run(process.execPath, ['--import', 'tsx', 'bin/app.ts'], {
    cwd: root,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_DEFAULT_ACCOUNT: '111111111111',
      CDK_DEFAULT_REGION: 'us-east-1',
      CDK_CONTEXT_JSON: JSON.stringify({ ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...context }),
    },
  });
  return JSON.parse(readFileSync(path.join(outdir, 'DataHandler.template.json'), 'utf8')) as { Resources: Record<string, { Type: string; Properties: any }> };
}

describe('the CDK app\'s context settings', () => {
  let resources: { Type: string; Properties: any }[];
  // One synth with every setting (each reaches a different part of the stack): the app runs
  // with cdk-nag, about 10 CPU-seconds a synth.
  beforeAll(async () => {
    const template = await synthApp({
      apiGatewayAccountRole: 'false',
      availabilityZoneIds: 'use1-az2, use1-az6',
      readerConcurrency: '3',
      alarmEmail: 'ops@example.org',
      dashboard: 'false',
      corsAllowOrigins: 'https://ops.example.org, http://localhost:8080',
    });
    resources = Object.values(template.Resources);
  }, 120_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('pass the account role switch, zone IDs, reader concurrency and alarm email to the stack', () => {
    expect(resources.filter((r) => r.Type === 'AWS::ApiGateway::Account')).toHaveLength(0);
    expect(new Set(resources.filter((r) => r.Type === 'AWS::EC2::Subnet').map((s) => s.Properties.AvailabilityZoneId))).toEqual(new Set(['use1-az2', 'use1-az6']));
    expect(resources.filter((r) => r.Properties?.ReservedConcurrentExecutions === 3)).toHaveLength(3); // the three readers
    expect(resources.find((r) => r.Type === 'AWS::SNS::Subscription')?.Properties).toMatchObject({ Protocol: 'email', Endpoint: 'ops@example.org' });
  });

  it('pass the dashboard switch and the CORS origins (a comma-separated list) to the stack', () => {
    expect(resources.filter((r) => r.Type === 'AWS::CloudFront::Distribution')).toHaveLength(0);
    const http = resources.find((r) => r.Type === 'AWS::ApiGatewayV2::Api' && r.Properties.ProtocolType === 'HTTP');
    expect(http?.Properties.CorsConfiguration.AllowOrigins).toEqual(['https://ops.example.org', 'http://localhost:8080']);
  });
});
