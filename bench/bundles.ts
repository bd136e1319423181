/**
 * Every catalogued function's bundle: its minified size, its source map, and how long a fresh
 * Node process of the Lambda runtime's major takes to import it, against the targets, beside
 * the same functions bundled from commit 21c105e (the bundles before the catalogue, the
 * namespace import of zod/mini and one module per SDK client) with that commit's settings.
 * Both sides are built and measured in this run, from a temporary folder removed at the end.
 */
import { build, type BuildOptions } from 'esbuild';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { databaseRoleOf, FUNCTION_SPECS, type FunctionSpec } from '../lambdas/functions';
import { esbuildOptions, LAMBDA_NODE_MAJOR, PROJECT_ROOT } from '../lib/bundling';
import { median } from './stats';
import { formatFixed, type BenchTable } from './table';

const run = promisify(execFile);

/** The last commit before this work on the bundles; its handlers are the baseline. */
export const BASELINE_COMMIT = '21c105e';

/**
 * The bundle settings of BASELINE_COMMIT (lib/constructs/handler-function.ts there), frozen
 * here so that the baseline does not move when lib/bundling.ts does. Source maps then carried
 * the sources themselves (esbuild's default).
 */
function baselineOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: true,
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    external: ['@aws-sdk/*', 'pg-native'],
    logLevel: 'silent',
  };
}

export interface BundlesBenchOptions {
  /** Timed imports per bundle (after one untimed warm-up); the median is shown. @default 5 */
  readonly runs?: number;
}

/** One bundle's cold import, each figure the median of the runs. */
interface ColdImport {
  /** Wall time of the `import()` itself. */
  readonly importMs: number;
  /** CPU time (user + system) of the `import()`: steadier than wall time on a busy machine. */
  readonly cpuMs: number;
  /** From the child process's start (Node's own start included) to the module evaluated. */
  readonly readyMs: number;
}

interface Measured extends ColdImport {
  readonly bytes: number;
  readonly mapBytes: number;
}

/** Targets: functions without a database ≤ 100 KiB and ≤ 80 ms; the others ≤ 250 KiB. */
function targetOf(spec: FunctionSpec): { readonly maxKiB: number; readonly maxMs?: number } {
  return databaseRoleOf(spec) ? { maxKiB: 250 } : { maxKiB: 100, maxMs: 80 };
}

// Times one import (wall and CPU) and when it was done since the process started
// (performance.now()'s origin), and refuses a bundle without a `handler` export.
const MEASURE_SCRIPT = `const wall = performance.now();
const cpu = process.cpuUsage();
const mod = await import(process.argv[2]);
const ready = performance.now();
const used = process.cpuUsage(cpu);
if (typeof mod.handler !== 'function') { console.error('no handler export'); process.exit(2); }
process.stdout.write(JSON.stringify({ importMs: ready - wall, cpuMs: (used.user + used.system) / 1000, readyMs: ready }));
`;

/** The Node binary of the Lambda runtime's major: the project's `node` package, else this one. */
async function lambdaNode(): Promise<string> {
  const candidates = [path.join(PROJECT_ROOT, 'node_modules', '.bin', 'node'), process.execPath];
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const { stdout } = await run(candidate, ['-p', 'process.versions.node']);
    if (Number(stdout.trim().split('.')[0]) === LAMBDA_NODE_MAJOR) return candidate;
  }
  throw new Error(`no Node ${LAMBDA_NODE_MAJOR} found (npm ci installs it as the "node" dev dependency)`);
}

/** The SDK clients the functions load; each is measured alone, as the floor of its functions. */
const SDK_FLOORS = ['@aws-sdk/client-sqs', '@aws-sdk/lib-dynamodb', '@aws-sdk/client-cognito-identity-provider', '@aws-sdk/client-apigatewaymanagementapi'];

/** Imports `file` in fresh processes: one warm-up (file cache), then the medians of `runs`. */
async function coldImport(node: string, measure: string, file: string, name: string, runs: number): Promise<ColdImport> {
  // A Lambda-like environment: no shell variables, the region, and the source-map flag that
  // HandlerFunction sets on every function.
  const env = { AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: name, NODE_OPTIONS: '--enable-source-maps', TZ: 'UTC' };
  const samples: ColdImport[] = [];
  for (let i = 0; i <= runs; i++) {
    const { stdout } = await run(node, [measure, file], { env, timeout: 30_000 }).catch((error: { stderr?: string }) => {
      throw new Error(`importing ${name} (${file}) failed: ${error.stderr?.trim() || String(error)}`);
    });
    if (i > 0) samples.push(JSON.parse(stdout) as ColdImport);
  }
  return {
    importMs: median(samples.map((s) => s.importMs)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    readyMs: median(samples.map((s) => s.readyMs)),
  };
}

async function bundleAndMeasure(options: BuildOptions, name: string, node: string, measure: string, runs: number): Promise<Measured> {
  const result = await build(options);
  if (result.errors.length) throw new Error(`bundling ${name} failed: ${result.errors[0]!.text}`);
  const file = path.join(options.outdir!, 'index.mjs');
  return {
    bytes: (await stat(file)).size,
    mapBytes: (await stat(`${file}.map`)).size,
    ...(await coldImport(node, measure, file, name, runs)),
  };
}

/** The source tree of BASELINE_COMMIT under `dir`, or why it is unavailable (say, a shallow clone). */
function extractBaseline(dir: string): string | undefined {
  const archive = spawnSync('git', ['-C', PROJECT_ROOT, 'archive', '--format=tar', BASELINE_COMMIT, 'lambdas', 'package.json', 'tsconfig.json'], { maxBuffer: 256 * 1024 * 1024 });
  if (archive.status !== 0) return `git archive ${BASELINE_COMMIT}: ${archive.stderr?.toString().trim() || archive.error?.message || 'failed'}`;
  const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
  if (untar.status !== 0) return `tar: ${untar.stderr?.toString().trim() || untar.error?.message || 'failed'}`;
  return undefined;
}

const kib = (bytes: number) => formatFixed(bytes / 1024, 1);
const ms = (value: number) => formatFixed(value, 0);

/** Bundles and imports every function, today's and the baseline's; returns the table. */
export async function runBundlesBench(options: BundlesBenchOptions = {}): Promise<BenchTable> {
  const runs = options.runs ?? 5;
  const node = await lambdaNode();
  const { stdout: nodeVersion } = await run(node, ['--version']);
  const dir = await mkdtemp(path.join(tmpdir(), 'dh-bench-bundles-'));
  try {
    // The SDK stays outside each bundle, as on Lambda, where the runtime provides it; here the
    // project's node_modules does, found from the bundles through this link.
    await symlink(path.join(PROJECT_ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const measure = path.join(dir, 'measure.mjs');
    await writeFile(measure, MEASURE_SCRIPT);
    const empty = path.join(dir, 'empty.mjs');
    await writeFile(empty, 'export const handler = async () => undefined;\n');
    const load = os.loadavg()[0]!;
    const nodeAlone = await coldImport(node, measure, empty, 'empty', runs);

    const baselineSrc = path.join(dir, 'baseline-src');
    await mkdir(baselineSrc);
    const baselineUnavailable = extractBaseline(baselineSrc);

    const rows: string[][] = [];
    let misses = 0;
    for (const spec of FUNCTION_SPECS) {
      const now = await bundleAndMeasure(esbuildOptions(spec.entry, path.join(dir, 'now', spec.name)), spec.name, node, measure, runs);
      const baselineEntry = path.join(baselineSrc, spec.entry);
      const before = !baselineUnavailable && existsSync(baselineEntry)
        ? await bundleAndMeasure(baselineOptions(baselineEntry, path.join(dir, 'baseline', spec.name)), spec.name, node, measure, runs)
        : undefined;
      const target = targetOf(spec);
      const pass = now.bytes <= target.maxKiB * 1024 && (target.maxMs === undefined || now.importMs <= target.maxMs);
      if (!pass) misses++;
      rows.push([
        spec.name,
        kib(now.bytes),
        kib(now.mapBytes),
        ms(now.importMs),
        ms(now.cpuMs),
        ms(now.readyMs),
        `≤ ${target.maxKiB} KiB${target.maxMs ? `, ≤ ${target.maxMs} ms` : ''}`,
        pass ? 'pass' : 'MISS',
        before ? kib(before.bytes) : '—',
        before ? kib(before.mapBytes) : '—',
        before ? ms(before.importMs) : '—',
        before ? ms(before.cpuMs) : '—',
        before ? `${formatFixed(before.bytes / now.bytes, 1)}×` : '—',
      ]);
    }
    rows.push(['(empty module)', '', '', ms(nodeAlone.importMs), ms(nodeAlone.cpuMs), ms(nodeAlone.readyMs), '', '', '', '', '', '', '']);
    // The floor under a function that uses the SDK: the client package alone, as the runtime
    // loads it (outside the bundle), before any of our code.
    for (const sdk of SDK_FLOORS) {
      const file = path.join(dir, `sdk-${sdk.replace(/\W+/g, '-')}.mjs`);
      await writeFile(file, `import ${JSON.stringify(sdk)};\nexport const handler = async () => undefined;\n`);
      const alone = await coldImport(node, measure, file, sdk, runs);
      rows.push([`(${sdk} alone)`, '', '', ms(alone.importMs), ms(alone.cpuMs), ms(alone.readyMs), '', '', '', '', '', '', '']);
    }
    return {
      title: `Function bundles: size and cold import, today vs ${BASELINE_COMMIT} (${misses ? `${misses} target(s) missed` : 'every target met'})`,
      columns: [
        { header: 'function', align: 'left' },
        { header: 'KiB' },
        { header: 'map KiB' },
        { header: 'import ms' },
        { header: 'cpu ms' },
        { header: 'ready ms' },
        { header: 'target', align: 'left' },
        { header: 'mark', align: 'left' },
        { header: 'base KiB' },
        { header: 'base map' },
        { header: 'base import' },
        { header: 'base cpu' },
        { header: 'smaller' },
      ],
      rows,
      notes: [
        'KiB: minified index.mjs (1 KiB = 1024 bytes), source map aside; map KiB: index.mjs.map.',
        `import ms / cpu ms: wall and CPU time of \`await import(bundle)\` in a fresh \`node\` process; ready ms: from that process's start to the`,
        `  bundle evaluated (Node's own start included, see "(empty module)"). Medians of ${runs} after one warm-up, on ${node === process.execPath ? 'this' : 'the project\'s'} Node ${nodeVersion.trim()}`,
        '  with NODE_OPTIONS=--enable-source-maps as on Lambda; the SDK loads from node_modules, as it would from the runtime\'s.',
        `  Load average at the start: ${formatFixed(load, 1)} on ${os.cpus().length} CPUs (wall times stretch with it; CPU times much less).`,
        `Today: esbuildOptions() of lib/bundling.ts. Baseline: lambdas/ of ${BASELINE_COMMIT} with that commit's settings (sources inside the maps),`,
        baselineUnavailable ? `  baseline unavailable: ${baselineUnavailable}` : '  the same dependency versions (package.json unchanged since).',
        'Targets (issue 7): no database binding ≤ 100 KiB and import ≤ 80 ms; a database binding ≤ 250 KiB.',
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
