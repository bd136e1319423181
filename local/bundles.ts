/**
 * The functions' bundles for the local runtime, built with the very esbuild settings the CDK
 * stack deploys (lib/bundling.ts), so what runs locally is what ships.
 *
 * They are written inside the project (node_modules/.cache), because the SDK stays outside
 * each bundle, as on Lambda, and must resolve from the project's node_modules. A build is kept
 * under a hash of everything that goes into it (the function sources, the bundle settings, the
 * lock file), so a restart or a second stack reuses it; a build is written aside and renamed
 * into place, so stacks starting at once never see half a build.
 */
import { build } from 'esbuild';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FunctionName, FunctionSpec } from '../lambdas/functions';
import { esbuildOptions, PROJECT_ROOT } from '../lib/bundling';

export const BUNDLE_CACHE = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'data-handler', 'functions');

/** Builds kept besides the current one (older ones are removed). */
const KEEP = 3;
const COMPLETE = '.complete';

export interface FunctionBundles {
  /** Each function's `index.mjs`. */
  readonly files: Readonly<Record<FunctionName, string>>;
  readonly dir: string;
  /** Whether this call built them (false: an earlier build was reused). */
  readonly built: boolean;
}

/** Bundles every function in `specs`, or finds the same build already made. */
export async function bundleFunctions(specs: readonly FunctionSpec[]): Promise<FunctionBundles> {
  const key = await buildKey(specs);
  const dir = path.join(BUNDLE_CACHE, key);
  const files = Object.fromEntries(specs.map((s) => [s.name, path.join(dir, s.name, 'index.mjs')])) as Record<FunctionName, string>;
  if (existsSync(path.join(dir, COMPLETE))) return { files, dir, built: false };

  const scratch = `${dir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await Promise.all(
      specs.map(async (spec) => {
        const result = await build(esbuildOptions(spec.entry, path.join(scratch, spec.name)));
        if (result.errors.length) throw new Error(`bundling ${spec.name} failed: ${result.errors[0]!.text}`);
      }),
    );
    await writeFile(path.join(scratch, COMPLETE), new Date().toISOString());
    await rename(scratch, dir).catch(async (error: NodeJS.ErrnoException) => {
      // Another stack finished the same build first: theirs is as good as ours.
      if (!existsSync(path.join(dir, COMPLETE))) throw error;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  await prune(key);
  return { files, dir, built: true };
}

/** A hash of every input of the build. */
async function buildKey(specs: readonly FunctionSpec[]): Promise<string> {
  const hash = createHash('sha256');
  const inputs = [
    ...(await sourceFiles(path.join(PROJECT_ROOT, 'lambdas'))),
    ...(await sourceFiles(path.join(PROJECT_ROOT, 'lib', 'bundle-stubs'))),
    path.join(PROJECT_ROOT, 'lib', 'bundling.ts'),
    path.join(PROJECT_ROOT, 'package-lock.json'),
  ];
  for (const file of inputs) hash.update(file).update('\0').update(await readFile(file)).update('\0');
  hash.update(specs.map((s) => `${s.name}=${s.entry}`).join(','));
  return hash.digest('hex').slice(0, 16);
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|mjs|js|json)$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Removes all but the newest builds, and scratch folders of builds that died. */
async function prune(current: string): Promise<void> {
  const names = await readdir(BUNDLE_CACHE).catch(() => [] as string[]);
  const aged = await Promise.all(
    names.map(async (name) => ({ name, mtime: (await stat(path.join(BUNDLE_CACHE, name)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  const builds = aged.filter((a) => !a.name.includes('.tmp-') && a.name !== current).sort((a, b) => b.mtime - a.mtime);
  const deadScratch = aged.filter((a) => a.name.includes('.tmp-') && !isAlive(Number(a.name.split('.tmp-')[1]!.split('-')[0])));
  await Promise.all(
    [...builds.slice(KEEP - 1), ...deadScratch].map((a) => rm(path.join(BUNDLE_CACHE, a.name), { recursive: true, force: true })),
  );
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
