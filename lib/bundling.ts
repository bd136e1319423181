/**
 * How every function is bundled, in one place: the CDK stack passes these settings to
 * NodejsFunction (which runs the local esbuild), and the local runtime, the artifact tests and
 * the bundle benchmark call esbuild with the very same options. No aws-cdk-lib import here, so
 * the local runtime can load it cheaply.
 */
import type { BuildOptions } from 'esbuild';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Lambda runtime's Node major: bundles target it, and the artifact tests run on it. */
export const LAMBDA_NODE_MAJOR = 22;

/**
 * The functions' bundle settings. The SDK v3 that the Lambda runtime ships stays outside the
 * bundle; pg-native is an optional addon that is never loaded. Source maps carry names and
 * lines but not the sources themselves, which would double the zip.
 */
export const BUNDLE_SETTINGS = {
  format: 'esm',
  target: `node${LAMBDA_NODE_MAJOR}`,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  // Some dependencies still call require(); an ESM bundle needs it defined.
  banner: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  externalModules: ['@aws-sdk/*', 'pg-native'],
  /** Packages replaced by a stand-in in every bundle (see each stub for why). */
  alias: { glob: path.join(PROJECT_ROOT, 'lib', 'bundle-stubs', 'glob.ts') },
} as const;

/** esbuild's options for one function bundle, as NodejsFunction builds it (`index.mjs`). */
export function esbuildOptions(entry: string, outdir: string): BuildOptions {
  return {
    entryPoints: { index: path.resolve(PROJECT_ROOT, entry) },
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: BUNDLE_SETTINGS.format,
    target: BUNDLE_SETTINGS.target,
    minify: BUNDLE_SETTINGS.minify,
    sourcemap: BUNDLE_SETTINGS.sourceMap,
    sourcesContent: BUNDLE_SETTINGS.sourcesContent,
    mainFields: [...BUNDLE_SETTINGS.mainFields],
    banner: { js: BUNDLE_SETTINGS.banner },
    external: [...BUNDLE_SETTINGS.externalModules],
    alias: { ...BUNDLE_SETTINGS.alias },
    logLevel: 'silent',
  };
}
