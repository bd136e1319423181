/**
 * The deploy's pre-flight, without AWS: what the synthesized templates reserve, the verdict
 * against the account's quota, what the refusal says, and how `npm run deploy`'s arguments
 * divide between the synth and the deploy. The AWS reads are in preflight-aws.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { splitDeployArgs } from '../../bin/deploy-args';
import { ceilingWarnings, concurrencyVerdict, readCloudAssembly, refusalMessage, templateDemand } from '../../bin/preflight';
import { synthesizedTemplate } from './preflight-fixtures';

describe('the verdict on reserved concurrency', () => {
  it('lets a template that reserves nothing through on a new account, although its quota of 10 leaves only 10 unreserved', () => {
    const verdict = concurrencyVerdict({ quota: 10, unreserved: 10 }, 0);

    expect(verdict.ok).toBe(true);
  });

  it('refuses 15 reserved on a quota of 10, and names 115 as the quota needed', () => {
    const verdict = concurrencyVerdict({ quota: 10, unreserved: 10 }, 15);

    expect(verdict).toMatchObject({ ok: false, requested: 15, held: 0, others: 0, neededQuota: 115 });
  });

  it('admits 15 reserved on a quota of 1000', () => {
    expect(concurrencyVerdict({ quota: 1000, unreserved: 1000 }, 15)).toMatchObject({ ok: true, neededQuota: 1000 });
  });

  it('counts what the stack holds already, since the deploy gives it back before it takes anew', () => {
    // Quota 115 with the stack's 15 held leaves exactly 100 unreserved.
    const account = { quota: 115, unreserved: 100 };

    expect(concurrencyVerdict(account, 15, 15)).toMatchObject({ ok: true, others: 0 });
    expect(concurrencyVerdict(account, 15, 0)).toMatchObject({ ok: false, neededQuota: 130 });
    expect(concurrencyVerdict(account, 20, 15)).toMatchObject({ ok: false, neededQuota: 120 });
  });

  it('adds what other functions of the account reserve to the quota needed', () => {
    const verdict = concurrencyVerdict({ quota: 1000, unreserved: 150 }, 60);

    expect(verdict).toMatchObject({ ok: false, others: 850, neededQuota: 1010 });
  });
});

describe('what the pre-flight says', () => {
  it('names the quota, each reservation, the quota needed and both ways out', () => {
    const reservations = templateDemand([{ stackName: 'DataHandler', template: synthesizedTemplate(5) }]).reservations;

    const message = refusalMessage('eu-west-1', concurrencyVerdict({ quota: 10, unreserved: 10 }, 15), reservations);

    expect(message).toContain("The account's quota is 10 concurrent executions");
    expect(message).toContain('The template reserves 15:');
    for (const id of ['RecordsQueryFunction299C8ECC', 'RecordsSeriesFunction1C7D0626', 'SwingAnalyzeFunctionB3F32FBC']) {
      expect(message).toMatch(new RegExp(`^ {4}${id} +5$`, 'm'));
    }
    expect(message).toContain('The quota must be at least 115');
    expect(message).toContain('"Lambda → Concurrent executions" (eu-west-1), to at least 115');
    expect(message).toContain('deploy without `-c readerConcurrency`');
    expect(message).not.toContain('Other functions');
  });

  it('warns when an event source may run more at once than the quota allows, and only then', () => {
    const { ceilings } = templateDemand([{ stackName: 'DataHandler', template: synthesizedTemplate(0, 27) }]);

    const onTen = ceilingWarnings('eu-west-1', { quota: 10, unreserved: 10 }, ceilings);
    const onThousand = ceilingWarnings('eu-west-1', { quota: 1000, unreserved: 1000 }, ceilings);

    expect(onTen).toHaveLength(1);
    expect(onTen[0]).toMatch(/WriterFunctionSqsEventSource\w+ \(DataHandler\) may run 27 .* quota in eu-west-1 is 10 .* can never reach that\. Lower it with `-c maxConcurrency=10`/);
    expect(onThousand).toEqual([]);
  });
});

describe('reading the synthesized templates', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sums the reservations of Lambda functions only, by logical id, and finds the event source ceiling', () => {
    const template = synthesizedTemplate(5);
    template.Resources.RecordQueue.Properties = { ReservedConcurrentExecutions: 40 } as never;

    const demand = templateDemand([{ stackName: 'DataHandler', template }]);

    expect(demand.reservations).toEqual([
      { stackName: 'DataHandler', logicalId: 'RecordsQueryFunction299C8ECC', reserved: 5 },
      { stackName: 'DataHandler', logicalId: 'RecordsSeriesFunction1C7D0626', reserved: 5 },
      { stackName: 'DataHandler', logicalId: 'SwingAnalyzeFunctionB3F32FBC', reserved: 5 },
    ]);
    expect(demand.ceilings).toEqual([
      { stackName: 'DataHandler', logicalId: 'WriterFunctionSqsEventSourceDataHandlerQueueRecordsDDA52C76259E0B75', maximumConcurrency: 27 },
    ]);
    expect(templateDemand([{ stackName: 'DataHandler', template: synthesizedTemplate(0) }]).reservations).toEqual([]);
  });

  it('leaves out a reservation of 0, and names one it cannot count rather than guessing', () => {
    const template = {
      Resources: {
        Off: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: 0 } },
        Text: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: '3' } },
        Conditional: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: { 'Fn::If': ['Big', 50, 5] } } },
      },
    };

    const demand = templateDemand([{ stackName: 'S', template }]);

    expect(demand.reservations).toEqual([{ stackName: 'S', logicalId: 'Text', reserved: 3 }]);
    expect(demand.uncounted).toEqual(['S/Conditional']);
  });

  it("finds the stacks through the assembly's manifest, with their names and regions", () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dh-assembly-'));
    writeFileSync(path.join(dir, 'DataHandler.template.json'), JSON.stringify(synthesizedTemplate(5)));
    writeFileSync(path.join(dir, 'Other.template.json'), JSON.stringify({ Resources: {} }));
    const manifest = {
      version: '55.0.0',
      artifacts: {
        'DataHandler.assets': { type: 'cdk:asset-manifest', properties: { file: 'DataHandler.assets.json' } },
        DataHandler: { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/eu-west-1', properties: { templateFile: 'DataHandler.template.json' } },
        Other: { type: 'aws:cloudformation:stack', environment: 'aws://unknown-account/unknown-region', properties: { templateFile: 'Other.template.json', stackName: 'other-name' } },
        Tree: { type: 'cdk:tree', properties: { file: 'tree.json' } },
      },
    };
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));

    const stacks = readCloudAssembly(dir);

    expect(stacks.map(({ stackName, region }) => ({ stackName, region }))).toEqual([
      { stackName: 'DataHandler', region: 'eu-west-1' },
      { stackName: 'other-name', region: undefined },
    ]);
    expect(templateDemand(stacks).reservations.map((r) => r.reserved)).toEqual([5, 5, 5]);
  });
});

describe("npm run deploy's arguments", () => {
  it('gives context, --app and --profile to the synth, and everything but context and --app to the deploy', () => {
    const args = splitDeployArgs(['-c', 'alarmEmail=x', '--context', 'readerConcurrency=5', '--context=batchSize=500', '--outputs-file', 'o.json', '--profile', 'prod', '--app', 'node app.js', 'DataHandler', '--require-approval=never']);

    expect(args.synth).toEqual(['--context', 'alarmEmail=x', '--context', 'readerConcurrency=5', '--context', 'batchSize=500', '--profile', 'prod', '--app', 'node app.js']);
    expect(args.deploy).toEqual(['--outputs-file', 'o.json', '--profile', 'prod', 'DataHandler', '--require-approval=never']);
    expect(args).toMatchObject({ profile: 'prod', output: 'cdk.out', help: false });
  });

  it('synthesizes into --output and deploys from there, and knows --help', () => {
    expect(splitDeployArgs(['-o', 'build/assembly'])).toMatchObject({ output: 'build/assembly', synth: [], deploy: [] });
    expect(splitDeployArgs(['--help']).help).toBe(true);
    // A context flag without its value is cdk's to refuse, in the synth.
    expect(splitDeployArgs(['-c']).synth).toEqual(['-c']);
  });
});
