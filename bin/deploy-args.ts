/**
 * How `npm run deploy`'s arguments divide between `cdk synth` and `cdk deploy --app <assembly>`:
 * what shapes the app (context, --app, --output) goes to the synth only, since the deploy reads
 * the assembly the synth wrote; --profile goes to both, so both see the same account.
 */

/** The arguments of each step. */
export interface DeployArgs {
  readonly help: boolean;
  /** For `cdk synth -q`: the context pairs, --app and --profile (the output is `output`). */
  readonly synth: readonly string[];
  /** For `cdk deploy --app <output>`: everything else, --profile included. */
  readonly deploy: readonly string[];
  /** Where the synth writes the cloud assembly and the deploy reads it. @default 'cdk.out' */
  readonly output: string;
  readonly profile: string | undefined;
}

const SYNTH_ONLY: Record<string, string> = { '-c': '--context', '--context': '--context', '-a': '--app', '--app': '--app' };
const OUTPUT = new Set(['-o', '--output']);

/** Splits `npm run deploy -- …`'s arguments; `-c k=v`, `--context k=v` and `--context=k=v` all count. */
export function splitDeployArgs(argv: readonly string[]): DeployArgs {
  const synth: string[] = [];
  const deploy: string[] = [];
  let output = 'cdk.out';
  let profile: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      deploy.push(...argv.slice(i));
      break;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const takesValue = flag in SYNTH_ONLY || OUTPUT.has(flag) || flag === '--profile';
    const value = eq > 0 ? arg.slice(eq + 1) : takesValue ? argv[++i] : undefined;
    if (flag === '--help' || flag === '-h') help = true;
    if (!takesValue) deploy.push(arg);
    // A flag missing its value goes to the synth as it is: cdk names the mistake.
    else if (value === undefined) synth.push(flag);
    else if (OUTPUT.has(flag)) output = value;
    else if (flag === '--profile') {
      profile = value;
      synth.push(flag, value);
      deploy.push(flag, value);
    } else synth.push(SYNTH_ONLY[flag]!, value);
  }
  return { help, synth, deploy, output, profile };
}
