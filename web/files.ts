/**
 * The dashboard's files, declared once: the local HTTP gateway serves them and the CDK app
 * deploys them, so the page served locally is the page hosted on AWS. Only these files are
 * served, by name, so no request path can reach anything else.
 */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB_DIR = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

/** Files served from packages, as their own dist files (no build step): served name to package path. */
const VENDOR_FILES: Readonly<Record<string, string>> = {
  'vendor/uPlot.esm.js': 'uplot/dist/uPlot.esm.js',
  'vendor/uPlot.min.css': 'uplot/dist/uPlot.min.css',
};

/** The dashboard's files: the name each is served under (relative, no leading slash) to its absolute path. */
export function dashboardFiles(): Record<string, string> {
  const own = readdirSync(WEB_DIR).filter((f) => /\.(html|js|css)$/.test(f));
  return {
    ...Object.fromEntries(own.map((f) => [f, path.join(WEB_DIR, f)])),
    ...Object.fromEntries(Object.entries(VENDOR_FILES).map(([name, file]) => [name, require.resolve(file)])),
  };
}

/**
 * The dashboard's Content-Security-Policy, locally and on AWS: its own files only, no inline
 * script or style (uPlot sets element styles through the DOM, which style-src does not govern),
 * and connections to its own origin and `connectTo` (the stack's APIs) only, so a link with
 * ?api= set elsewhere cannot take the password typed into the page there.
 */
export function dashboardPolicy(connectTo: readonly string[]): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self' ${connectTo.join(' ')}`,
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ].join('; ');
}
