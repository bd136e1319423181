/**
 * The pre-flight's AWS reads over real sockets. Lambda's account settings (GetAccountSettings)
 * have no local equivalent: moto does not serve /2016-08-19/account-settings/, LocalStack and
 * the local stack do not model the quota. So a small node:http server answers that one path as
 * Lambda does, and moto (when python3 has it) serves the rest: CloudFormation's stacks and
 * Lambda's functions with their reserved concurrency.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { preflightClients, readAccountConcurrency, readHeldReservations, runPreflight, type PreflightClientOptions } from '../../bin/preflight';
import { synthesizedTemplate } from './preflight-fixtures';

const REGION = 'eu-west-1';
const ACCOUNT_SETTINGS = /\/2016-08-19\/account-settings\/?$/;
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close(server: Server) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

/** GetAccountSettings' answer, as Lambda gives it. */
function accountSettings(quota: number, unreserved: number): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ AccountLimit: { ConcurrentExecutions: quota, UnreservedConcurrentExecutions: unreserved, CodeSizeUnzipped: 262144000, TotalCodeSize: 80530636800 }, AccountUsage: { FunctionCount: 0, TotalCodeSize: 0 } }));
  };
}

const options = (lambda: string, cloudFormation = lambda): PreflightClientOptions => ({ region: REGION, credentials: CREDENTIALS, endpoints: { lambda, cloudFormation }, timeoutMs: 2_000 });
const stacksOf = (stackName: string, readerConcurrency: number) => [{ stackName, region: REGION, template: synthesizedTemplate(readerConcurrency) }];

describe('the account settings read', () => {
  let server: Server | undefined;
  afterEach(async () => {
    if (server) await close(server);
    server = undefined;
  });

  it("reads the quota and what is unreserved from Lambda's GET /2016-08-19/account-settings/", async () => {
    const seen: string[] = [];
    const answer = accountSettings(10, 10);
    const local = await listen((req, res) => (seen.push(`${req.method} ${req.url}`), answer(req, res)));
    server = local.server;

    const account = await readAccountConcurrency(preflightClients(options(local.url)).lambda);

    expect(account).toEqual({ quota: 10, unreserved: 10 });
    // Lambda documents the path with a trailing slash; this SDK sends it without.
    expect(seen).toEqual([expect.stringMatching(ACCOUNT_SETTINGS)]);
    expect(seen[0]).toMatch(/^GET /);
  });

  it('lets a template without reservations through on a quota of 10, warning that the writer can never reach its MaximumConcurrency', async () => {
    const local = await listen(accountSettings(10, 10));
    server = local.server;

    const outcome = await runPreflight(stacksOf('DataHandler', 0), () => preflightClients(options(local.url)));

    expect(outcome.ok).toBe(true);
    expect(outcome.lines.map((l) => l.level)).toEqual(['warn', 'info']);
    expect(outcome.lines[0]!.text).toMatch(/may run 27 .* quota in eu-west-1 is 10/);
  });

  it('warns once and lets the deploy go on when the read is refused, naming what it could not check', async () => {
    const local = await listen((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' });
      res.end(JSON.stringify({ Message: 'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: lambda:GetAccountSettings' }));
    });
    server = local.server;

    const outcome = await runPreflight(stacksOf('DataHandler', 5), () => preflightClients(options(local.url)));

    expect(outcome.ok).toBe(true);
    expect(outcome.lines).toHaveLength(1);
    expect(outcome.lines[0]).toMatchObject({ level: 'warn' });
    expect(outcome.lines[0]!.text).toMatch(/could not read the Lambda concurrency quota in eu-west-1 \(GetAccountSettings\): .*not authorized.*, so the template's 15 reserved concurrent executions and the event sources' MaximumConcurrency went unchecked/);
  });

  it('gives up on an endpoint that never answers, within its deadline, and deploys anyway', async () => {
    const local = await listen(() => {}); // takes the request and says nothing
    server = local.server;

    const outcome = await runPreflight(stacksOf('DataHandler', 5), () => preflightClients({ ...options(local.url), timeoutMs: 200 }));

    expect(outcome.ok).toBe(true);
    expect(outcome.lines[0]!.text).toMatch(/could not read the Lambda concurrency quota in eu-west-1/);
  });
});

/** Why moto cannot run here, or undefined when it can. */
function motoMissing(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import moto.server'], { stdio: 'ignore' });
  if (probe.error) return 'python3 is not installed';
  return probe.status === 0 ? undefined : 'python3 has no moto[server] (pip install "moto[server]")';
}
const missing = motoMissing();
if (missing) console.warn(`preflight-aws: the deployed-stack reads are skipped: ${missing}`);

describe.skipIf(missing !== undefined)(`the reads of a deployed stack, against moto${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let moto: ChildProcess;
  let motoUrl: string;
  let proxy: Server;
  let lambdaUrl: string;
  let account = accountSettings(10, 10);

  beforeAll(async () => {
    const free = await listen(() => {});
    const port = (free.server.address() as AddressInfo).port;
    await close(free.server);
    moto = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    motoUrl = `http://127.0.0.1:${port}`;
    await waitFor(`${motoUrl}/moto-api/`);
    // Lambda's endpoint: the account settings from here, every other call passed on to moto.
    ({ server: proxy, url: lambdaUrl } = await listen((req, res) => {
      if (ACCOUNT_SETTINGS.test(req.url ?? '')) return account(req, res);
      const upstream = request(`${motoUrl}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    }));
    // A deployed stack whose two readers hold 5 each; a third function holds nothing.
    const reader = (reserved?: number) => ({
      Type: 'AWS::Lambda::Function',
      Properties: { Code: { ZipFile: 'exports.handler = async () => 1' }, Handler: 'index.handler', Runtime: 'nodejs22.x', Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, ...(reserved ? { ReservedConcurrentExecutions: reserved } : {}) },
    });
    const template = {
      Resources: {
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }] } } },
        RecordsQuery: reader(5),
        RecordsSeries: reader(5),
        Health: reader(),
      },
    };
    const cloudFormation = new CloudFormationClient({ region: REGION, credentials: CREDENTIALS, endpoint: motoUrl });
    await cloudFormation.send(new CreateStackCommand({ StackName: 'Deployed', TemplateBody: JSON.stringify(template) }));
    cloudFormation.destroy();
  });

  afterAll(async () => {
    if (proxy) await close(proxy);
    moto?.kill();
  });

  it('sums the reservations the functions of a deployed stack hold, and finds none for a stack never deployed', async () => {
    const clients = preflightClients(options(lambdaUrl, motoUrl));

    const held = await readHeldReservations(clients, 'Deployed');
    const none = await readHeldReservations(clients, 'NeverDeployed');

    expect(held).toBe(10);
    expect(none).toBe(0);
  });

  it('refuses 15 reserved for a new stack on a quota of 10, naming 115', async () => {
    account = accountSettings(10, 10);

    const outcome = await runPreflight(stacksOf('NeverDeployed', 5), () => preflightClients(options(lambdaUrl, motoUrl)));

    expect(outcome.ok).toBe(false);
    expect(outcome.lines.find((l) => l.level === 'error')?.text).toContain('The quota must be at least 115');
  });

  it('lets a deployed stack keep what it holds, and refuses it more than the quota has room for', async () => {
    // Quota 110 with the stack's 10 held leaves exactly 100 unreserved.
    account = accountSettings(110, 100);

    const keeps = await runPreflight([{ stackName: 'Deployed', region: REGION, template: { Resources: { A: { Type: 'AWS::Lambda::Function', Properties: { ReservedConcurrentExecutions: 10 } } } } }], () =>
      preflightClients(options(lambdaUrl, motoUrl)),
    );
    const grows = await runPreflight(stacksOf('Deployed', 5), () => preflightClients(options(lambdaUrl, motoUrl)));

    expect(keeps.ok).toBe(true);
    expect(grows.ok).toBe(false);
    expect(grows.lines.find((l) => l.level === 'error')?.text).toMatch(/its stack holds 10 of them already[\s\S]*at least 115/);
  });
});

async function waitFor(url: string) {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} did not answer within 10 s`);
}
