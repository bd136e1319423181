/**
 * `npm run smoke`: checks a deployed stack, or the running local stack, end to end from its
 * outputs file (`cdk deploy --outputs-file outputs.json`, or `.data/outputs.json` while
 * `npm start` runs). The steps are in smoke-steps.ts; this file reads the setup and prints.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describeError } from './demo-support';
import { localOutputsFile, parseSmokeArgs, readSmokeTarget, smokeCredentials, smokeTimeoutMs, SmokeSetupError } from './smoke-support';
import { runSmoke } from './smoke-steps';
import { askHidden } from './prompt';

const parsed = parseSmokeArgs(process.argv.slice(2), process.env);
if (parsed.kind === 'help') console.log(parsed.text);
if (parsed.kind === 'error') console.error(`smoke: ${parsed.message}`);
if (parsed.kind !== 'run') process.exit(parsed.kind === 'help' ? 0 : 2);
const args = parsed.args;

function setupFailed(message: string): never {
  console.error(`smoke: ${message}`);
  process.exit(2);
}

const file = args.outputs ?? localOutputsFile(process.env);
if (!existsSync(file)) {
  setupFailed(
    args.outputs
      ? `no outputs file at ${file}; write it with \`cdk deploy --outputs-file ${file}\``
      : `no --outputs given and no ${file} (the local stack writes it while \`npm start\` runs). Pass --outputs outputs.json from \`cdk deploy --outputs-file outputs.json\`, or start the local stack.`,
  );
}

let target: ReturnType<typeof readSmokeTarget>;
let credentials: ReturnType<typeof smokeCredentials>;
try {
  target = readSmokeTarget(readFileSync(file, 'utf8'), file, args.stack);
  credentials = smokeCredentials(target, args, process.env);
} catch (error) {
  setupFailed(error instanceof SmokeSetupError ? error.message : `cannot read ${file}: ${describeError(error)}`);
}
const password =
  credentials.password ??
  (await askHidden(`password for ${credentials.username}: `)) ??
  setupFailed('no password: pass --password, set SMOKE_PASSWORD, or run on a terminal to be asked for it');

console.log(`smoke check of ${target.stack} (${file}) as ${credentials.username}\n  HTTP ${target.httpUrl}\n  WS   ${target.wsUrl}`);
const report = await runSmoke({
  httpUrl: target.httpUrl,
  wsUrl: target.wsUrl,
  username: credentials.username,
  password,
  timeoutMs: smokeTimeoutMs(target, args),
  log: (line) => console.log(line),
});
if (!report.ok && target.local && report.steps.length === 1) {
  console.log(`  Is the local stack running? Start it with \`npm start\` (${file} may be left from an earlier run).`);
}
process.exitCode = report.ok ? 0 : 1;
// Idle keep-alive sockets of fetch must not hold the finished command for seconds.
setTimeout(() => process.exit(), 1_000).unref();

