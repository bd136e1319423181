/**
 * Stands in for the `glob` package inside function bundles. node-pg-migrate imports it only to
 * find migration files by pattern (`useGlob`), which this project never asks for: it reads one
 * plain folder. Leaving the real package out takes about 84 KB (glob, minimatch, lru-cache,
 * path-scurry, minipass) off the migration function. The local stack and the artifact tests
 * run that bundle, so a node-pg-migrate that came to need glob would fail there, loudly.
 */
export function glob(): never {
  throw new Error('glob is not bundled: migrations are read from a plain folder (useGlob is off)');
}
