/**
 * `npm run deploy [-- cdk deploy's arguments]`: synthesizes once, checks the account's Lambda
 * concurrency quota against the template's reservations (bin/preflight.ts), and deploys the
 * assembly it checked. A quota too small for the reservations stops here with the way out,
 * rather than as a CloudFormation rollback. `DEPLOY_SKIP_PREFLIGHT=1` skips the check.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeError } from './demo-support';
import { splitDeployArgs } from './deploy-args';
import { preflightClients, readCloudAssembly, runPreflight } from './preflight';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');
const USAGE = `npm run deploy [-- -c key=value … --profile NAME --outputs-file FILE …]

  Runs \`cdk synth -q\` with the context (-c/--context), --app and --profile given, checks the
  account's Lambda concurrency quota against the reservations in the synthesized templates,
  then \`cdk deploy --app <assembly>\` with the other arguments.
  DEPLOY_SKIP_PREFLIGHT=1   deploy without the check

cdk deploy's own options follow.
`;

/** Runs the local cdk; resolves with its exit code (128 + the signal's number when killed). */
function cdk(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(CDK, args, { stdio: 'inherit', cwd: ROOT });
    // Ctrl-C reaches cdk through the terminal: let cdk finish it and report its own exit code.
    const ignore = () => {};
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', ignore).on('SIGTERM', forward);
    const done = (code: number) => {
      process.off('SIGINT', ignore).off('SIGTERM', forward);
      resolve(code);
    };
    child.on('error', (error) => {
      console.error(`deploy: cannot run ${CDK}: ${error.message} (did \`npm ci\` run?)`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
}

/** The pre-flight's verdict on the assembly in `dir`: false means "do not deploy". */
async function preflight(dir: string, profile: string | undefined): Promise<boolean> {
  if (['1', 'true'].includes(process.env.DEPLOY_SKIP_PREFLIGHT ?? '')) {
    console.log('deploy: pre-flight skipped (DEPLOY_SKIP_PREFLIGHT=1)');
    return true;
  }
  let stacks: ReturnType<typeof readCloudAssembly>;
  try {
    stacks = readCloudAssembly(dir);
  } catch (error) {
    console.error(`deploy: cannot read the synthesized assembly in ${dir}: ${describeError(error)}. DEPLOY_SKIP_PREFLIGHT=1 deploys without the check.`);
    return false;
  }
  const outcome = await runPreflight(stacks, (region) => preflightClients({ ...(region ? { region } : {}), ...(profile ? { profile } : {}) }));
  for (const line of outcome.lines) (line.level === 'info' ? console.log : console.error)(line.text);
  return outcome.ok;
}

const args = splitDeployArgs(process.argv.slice(2));
if (args.help) {
  console.log(USAGE);
  process.exit(await cdk(['deploy', '--help']));
}
const output = path.resolve(ROOT, args.output);
const synthesized = await cdk(['synth', '-q', '--output', output, ...args.synth]);
if (synthesized !== 0) process.exit(synthesized);
if (!(await preflight(output, args.profile))) process.exit(1);
process.exit(await cdk(['deploy', '--app', output, ...args.deploy]));
