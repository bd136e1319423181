/**
 * The monitoring dashboard on AWS: a private bucket behind CloudFront (OAC), HTTPS only, with
 * security headers and a Content-Security-Policy that names the stack's two APIs; the deployed
 * files are exactly web/files.ts's, plus a config.json naming the APIs; and the HTTP API's CORS
 * narrowed to the dashboard's origin. Template.fromStack refuses a template with a dependency
 * cycle (`cdk synth` does not): the API's CORS names the distribution and the deployment names
 * both, so the Content-Security-Policy must not sit in the distribution's headers policy.
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE, DashboardSite, FALLBACK_CSP } from '../../lib/constructs/dashboard-site';
import { dashboardFiles } from '../../web/files';
import { synth, TEST_ENV, testApp } from './stack';

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[] | string };
type Statement = { Effect: string; Principal: any; Action: string | string[]; Resource: unknown; Condition?: any };

const entries = (template: Template, type: string) => Object.entries(template.findResources(type)) as [string, Resource][];
const only = (template: Template, type: string): [string, Resource] => {
  const found = entries(template, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const apiId = (template: Template, protocol: 'HTTP' | 'WEBSOCKET') => entries(template, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === protocol)![0];

/**
 * A template value as it reads once deployed, with `Ref X` standing for `<X>` (an API's id) and
 * the region and URL suffix filled in: enough to read URLs and policies built from tokens.
 */
function evaluate(value: unknown): any {
  if (Array.isArray(value)) return value.map(evaluate);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, any>;
  if ('Ref' in obj) return ({ 'AWS::URLSuffix': 'amazonaws.com', 'AWS::Region': TEST_ENV.region, 'AWS::AccountId': TEST_ENV.account, 'AWS::Partition': 'aws' } as Record<string, string>)[obj.Ref] ?? `<${obj.Ref}>`;
  if ('Fn::GetAtt' in obj) return `<${obj['Fn::GetAtt'].join('.')}>`;
  if ('Fn::Join' in obj) return (evaluate(obj['Fn::Join'][1]) as string[]).join(obj['Fn::Join'][0]);
  if ('Fn::Split' in obj) return (evaluate(obj['Fn::Split'][1]) as string).split(obj['Fn::Split'][0]);
  if ('Fn::Select' in obj) return (evaluate(obj['Fn::Select'][1]) as unknown[])[obj['Fn::Select'][0]];
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, evaluate(v)]));
}

/** Every file under `dir`, by its path relative to it (with `/`). */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full, `${prefix}${name}/`) : [`${prefix}${name}`];
  });
}

/** The deployment's sources as staged in the cloud assembly: folder and markers, in order. */
function deployedSources(outdir: string, template: Template) {
  const [, deployment] = only(template, 'Custom::CDKBucketDeployment');
  const keys = deployment.Properties.SourceObjectKeys as string[];
  const markers = (deployment.Properties.SourceMarkers ?? []) as Record<string, unknown>[];
  return keys.map((key, i) => ({ dir: path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`), markers: markers[i] ?? {} }));
}

describe('the hosted dashboard', () => {
  let built: ReturnType<typeof synth>;
  let template: Template;
  beforeAll(() => {
    built = synth();
    template = built.template;
  });

  it('keeps its bucket private: every public access blocked, encrypted at rest, TLS 1.2 only', () => {
    const [, bucket] = only(template, 'AWS::S3::Bucket');
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    const statements = only(template, 'AWS::S3::BucketPolicy')[1].Properties.PolicyDocument.Statement as Statement[];
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }));
  });

  it('lets CloudFront read the bucket for this distribution only (OAC), and nobody else read it', () => {
    const [bucketId] = only(template, 'AWS::S3::Bucket');
    const [distributionId, distribution] = only(template, 'AWS::CloudFront::Distribution');
    const statements = only(template, 'AWS::S3::BucketPolicy')[1].Properties.PolicyDocument.Statement as Statement[];
    const allows = statements.filter((s) => s.Effect === 'Allow');
    const reads = allows.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:GetObject')));
    expect(reads).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudfront.amazonaws.com' },
        Action: 's3:GetObject',
        Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
      }),
    ]);
    expect(evaluate(reads[0]!.Condition.StringEquals['AWS:SourceArn'])).toBe(`arn:aws:cloudfront::${TEST_ENV.account}:distribution/<${distributionId}>`);
    // The only other grant: CDK's function that empties the bucket when the stack is deleted.
    for (const s of allows.filter((a) => a !== reads[0])) {
      expect(s.Principal).toEqual({ AWS: { 'Fn::GetAtt': [expect.stringMatching(/^CustomS3AutoDeleteObjects/), 'Arn'] } });
      expect([s.Action].flat()).not.toContain('s3:GetObject');
    }
    expect(statements.every((s) => s.Effect === 'Deny' || JSON.stringify(s.Principal) !== '{"AWS":"*"}')).toBe(true);
    const [origin] = distribution.Properties.DistributionConfig.Origins;
    expect(origin.DomainName).toEqual({ 'Fn::GetAtt': [bucketId, 'RegionalDomainName'] });
    expect(origin.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [only(template, 'AWS::CloudFront::OriginAccessControl')[0], 'Id'] });
    expect(origin.S3OriginConfig.OriginAccessIdentity).toBe('');
  });

  it('serves over HTTPS only (HTTP is redirected), on HTTP/2 and 3, index.html at the root, price class 100', () => {
    const config = only(template, 'AWS::CloudFront::Distribution')[1].Properties.DistributionConfig;
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(config.DefaultCacheBehavior.AllowedMethods).toEqual(['GET', 'HEAD']);
    expect(config.HttpVersion).toBe('http2and3');
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.PriceClass).toBe('PriceClass_100');
  });

  it('sends HSTS, nosniff, frame denial and strict-origin-when-cross-origin through its response headers policy', () => {
    const [policyId, policy] = only(template, 'AWS::CloudFront::ResponseHeadersPolicy');
    const config = only(template, 'AWS::CloudFront::Distribution')[1].Properties.DistributionConfig;
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
    expect(policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig).toEqual({
      StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Override: true },
      ContentTypeOptions: { Override: true },
      FrameOptions: { FrameOption: 'DENY', Override: true },
      ReferrerPolicy: { ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true },
    });
  });

  it('gives every file a Content-Security-Policy whose connect-src is its own origin and exactly the two API origins', () => {
    const [, deployment] = only(template, 'Custom::CDKBucketDeployment');
    expect(evaluate(deployment.Properties.UserMetadata.csp)).toBe(
      [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        `connect-src 'self' https://<${apiId(template, 'HTTP')}>.execute-api.${TEST_ENV.region}.amazonaws.com wss://<${apiId(template, 'WEBSOCKET')}>.execute-api.${TEST_ENV.region}.amazonaws.com`,
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
      ].join('; '),
    );
  });

  it('turns the stored policy into the Content-Security-Policy header at the edge, and sends a strict one where an object has none', () => {
    const [functionId, edgeFunction] = only(template, 'AWS::CloudFront::Function');
    const behavior = only(template, 'AWS::CloudFront::Distribution')[1].Properties.DistributionConfig.DefaultCacheBehavior;
    expect(behavior.FunctionAssociations).toEqual([{ EventType: 'viewer-response', FunctionARN: { 'Fn::GetAtt': [functionId, 'FunctionARN'] } }]);
    expect(edgeFunction.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
    // The function's own code, run on the events CloudFront gives it.
    const handler = new Function(`${edgeFunction.Properties.FunctionCode}\nreturn handler;`)() as (event: unknown) => { headers: Record<string, { value: string }> };
    const stored = handler({ response: { statusCode: 200, headers: { 'x-amz-meta-csp': { value: "default-src 'self'" }, 'content-type': { value: 'text/html' } } } });
    expect(stored.headers).toEqual({ 'content-security-policy': { value: "default-src 'self'" }, 'content-type': { value: 'text/html' } });
    const bare = handler({ response: { statusCode: 200, headers: {} } });
    expect(bare.headers).toEqual({ 'content-security-policy': { value: FALLBACK_CSP } });
  });

  it('deploys every file of web/files.ts, unchanged and under its served name', () => {
    const files = dashboardFiles();
    const [staged] = deployedSources(built.app.outdir, template);
    expect(filesUnder(staged!.dir).sort()).toEqual(Object.keys(files).sort());
    for (const [name, source] of Object.entries(files)) {
      expect(readFileSync(path.join(staged!.dir, name)).equals(readFileSync(source)), name).toBe(true);
    }
    expect(Object.keys(files)).toContain('index.html');
  });

  it('writes config.json with the stack\'s HTTP API URL and WebSocket URL, filled in at deploy time', () => {
    const [, generated] = deployedSources(built.app.outdir, template);
    expect(filesUnder(generated!.dir)).toEqual([CONFIG_FILE]);
    let text = readFileSync(path.join(generated!.dir, CONFIG_FILE), 'utf8');
    for (const [marker, value] of Object.entries(generated!.markers)) text = text.split(marker).join(evaluate(value));
    const outputs = template.findOutputs('*');
    expect(JSON.parse(text)).toEqual({ httpUrl: evaluate(outputs.HttpApiUrl!.Value), wsUrl: evaluate(outputs.WebSocketUrl!.Value) });
    expect(JSON.parse(text)).toEqual({
      httpUrl: `https://<${apiId(template, 'HTTP')}>.execute-api.${TEST_ENV.region}.amazonaws.com/`,
      wsUrl: `wss://<${apiId(template, 'WEBSOCKET')}>.execute-api.${TEST_ENV.region}.amazonaws.com/live`,
    });
  });

  it('serves every file with Cache-Control: no-cache and invalidates the whole distribution on each deploy', () => {
    const [, deployment] = only(template, 'Custom::CDKBucketDeployment');
    const [distributionId] = only(template, 'AWS::CloudFront::Distribution');
    expect(deployment.Properties.SystemMetadata).toEqual({ 'cache-control': 'no-cache' });
    expect(deployment.Properties.DistributionId).toEqual({ Ref: distributionId });
    expect(deployment.Properties.DistributionPaths).toEqual(['/*']);
    expect(deployment.Properties.Prune).toBe(true);
  });

  it('lets the HTTP API accept cross-origin calls from the dashboard\'s origin and no other', () => {
    const [distributionId] = only(template, 'AWS::CloudFront::Distribution');
    const http = template.findResources('AWS::ApiGatewayV2::Api')[apiId(template, 'HTTP')]!;
    expect(http.Properties.CorsConfiguration.AllowOrigins).toEqual([{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }]] }]);
  });

  it('names its headers policy and origin access control by stack and region, as CloudFront names are global to the account', () => {
    const names = [
      only(template, 'AWS::CloudFront::ResponseHeadersPolicy')[1].Properties.ResponseHeadersPolicyConfig.Name as string,
      only(template, 'AWS::CloudFront::OriginAccessControl')[1].Properties.OriginAccessControlConfig.Name as string,
    ];
    for (const name of names) expect(name).toMatch(new RegExp(`^Test.*-${TEST_ENV.region}$`));
    expect(names[0]!.length).toBeLessThanOrEqual(128);
    expect(names[1]!.length).toBeLessThanOrEqual(64);
    const other = synth({}, { id: 'Other' }).template;
    expect(only(other, 'AWS::CloudFront::OriginAccessControl')[1].Properties.OriginAccessControlConfig.Name).not.toBe(names[1]);
  });

  it('outputs the dashboard\'s URL', () => {
    const [distributionId] = only(template, 'AWS::CloudFront::Distribution');
    expect(template.findOutputs('DashboardUrl').DashboardUrl!.Value).toEqual({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [distributionId, 'DomainName'] }, '/']] });
  });

  it('keeps the logs of the functions that deploy the files and empty the bucket for the stack\'s retention', () => {
    const { template: week } = synth({ logRetention: RetentionDays.ONE_WEEK });
    const groups = Object.fromEntries(entries(week, 'AWS::Logs::LogGroup'));
    const functions = entries(week, 'AWS::Lambda::Function').filter(([id]) => /^Custom(CDKBucketDeployment|S3AutoDeleteObjects)/.test(id));
    expect(functions).toHaveLength(2);
    for (const [id, f] of functions) {
      const groupId = f.Properties.LoggingConfig?.LogGroup?.Ref as string;
      expect(groups[groupId]?.Properties.RetentionInDays, id).toBe(7);
    }
  });
});

describe('CORS of the HTTP API', () => {
  const originsOf = (template: Template) => template.findResources('AWS::ApiGatewayV2::Api')[apiId(template, 'HTTP')]!.Properties.CorsConfiguration?.AllowOrigins;
  const dashboardOrigin = (template: Template) => ({ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [only(template, 'AWS::CloudFront::Distribution')[0], 'DomainName'] }]] });

  it('adds the origins given in corsAllowOrigins beside the dashboard\'s', () => {
    const { template } = synth({ corsAllowOrigins: ['https://ops.example.org'] });
    expect(originsOf(template)).toEqual([dashboardOrigin(template), 'https://ops.example.org']);
  });

  it('allows any origin only when asked to with *', () => {
    expect(originsOf(synth({ corsAllowOrigins: ['*'] }).template)).toEqual(['*']);
    expect(originsOf(synth({ dashboard: false, corsAllowOrigins: ['*'] }).template)).toEqual(['*']);
  });
});

describe('the stack with dashboard: false', () => {
  let template: Template;
  beforeAll(() => ({ template } = synth({ dashboard: false })));

  it('creates no bucket, distribution, edge function, headers policy or deployment, and no DashboardUrl output', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::CloudFront::Distribution', 'AWS::CloudFront::Function', 'AWS::CloudFront::ResponseHeadersPolicy', 'Custom::CDKBucketDeployment', 'Custom::S3AutoDeleteObjects']) {
      template.resourceCountIs(type, 0);
    }
    expect(Object.keys(template.findOutputs('DashboardUrl'))).toEqual([]);
  });

  it('gives the HTTP API no CORS configuration: browsers refuse calls from other origins', () => {
    const http = template.findResources('AWS::ApiGatewayV2::Api')[apiId(template, 'HTTP')]!;
    expect(http.Properties.CorsConfiguration).toBeUndefined();
  });

  it('allows the origins given in corsAllowOrigins', () => {
    const { template: given } = synth({ dashboard: false, corsAllowOrigins: ['https://ops.example.org'] });
    expect(given.findResources('AWS::ApiGatewayV2::Api')[apiId(given, 'HTTP')]!.Properties.CorsConfiguration.AllowOrigins).toEqual(['https://ops.example.org']);
  });
});

describe('the dashboard site on its own', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'dh-site-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  const site = (files: Record<string, string>) => {
    const stack = new Stack(testApp(), 'Site', { env: TEST_ENV });
    new DashboardSite(stack, 'Site', { httpApiUrl: 'https://api.example.org/', webSocketUrl: 'wss://ws.example.org/live', files });
    return Template.fromStack(stack);
  };
  const filesKey = (template: Template) => (only(template, 'Custom::CDKBucketDeployment')[1].Properties.SourceObjectKeys as string[])[0];
  const write = (name: string, text: string) => {
    const file = path.join(scratch, name);
    writeFileSync(file, text);
    return file;
  };

  it('stages the files deterministically: the asset changes when a file\'s content does, and only then', () => {
    const a = write('a.js', 'export const a = 1;\n');
    const b = write('b.js', 'export const b = 1;\n');
    const first = filesKey(site({ 'index.html': a, 'vendor/b.js': b }));
    expect(filesKey(site({ 'index.html': a, 'vendor/b.js': b }))).toBe(first);
    expect(filesKey(site({ 'index.html': a, 'vendor/b.js': write('b2.js', 'export const b = 1;\n') }))).toBe(first);
    expect(filesKey(site({ 'index.html': a, 'vendor/b.js': write('b3.js', 'export const b = 2;\n') }))).not.toBe(first);
  });

  it('names literal API URLs\' origins in the policy', () => {
    const csp = only(site({ 'index.html': write('i.html', '<!doctype html>') }), 'Custom::CDKBucketDeployment')[1].Properties.UserMetadata.csp as string;
    expect(csp).toContain("connect-src 'self' https://api.example.org wss://ws.example.org;");
  });

  it('refuses a config.json of web/ (it is generated) and a served name that leaves the site', () => {
    const file = write('x.js', '');
    expect(() => site({ 'config.json': file })).toThrow(/generated at deploy time/);
    expect(() => site({ '../x.js': file })).toThrow(/leaves the site/);
  });
});
