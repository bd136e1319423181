/**
 * Writes the machine-readable contracts, which are static for a build: the HTTP API's OpenAPI
 * document (lambdas/core/openapi.ts) and the monitoring protocol's AsyncAPI document
 * (lambdas/core/asyncapi.ts). `--write` (npm run contracts) writes both into lambdas/contracts/,
 * which the openapi function serves as they are, with no zod conversion at run time;
 * `--check` fails when those files are not what the schemas give now (a test checks it too).
 *
 *   node --import tsx bin/generate-contracts.ts [--write | --check] [--openapi PATH] [--asyncapi PATH]
 *
 * With neither --write, --check nor a path, the AsyncAPI document goes to standard output.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONTRACT_FILES, contractTexts } from '../lambdas/core/contract-files';

const USAGE = 'Usage: node --import tsx bin/generate-contracts.ts [--write | --check] [--openapi PATH] [--asyncapi PATH]   (default: the AsyncAPI document to standard output)';

const { values } = parseArgs({
  options: {
    asyncapi: { type: 'string' },
    openapi: { type: 'string' },
    write: { type: 'boolean' },
    check: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
const texts = contractTexts();
if (values.help) {
  console.log(USAGE);
} else if (values.write || values.check) {
  let stale = 0;
  for (const [name, file] of Object.entries(CONTRACT_FILES) as [keyof typeof CONTRACT_FILES, string][]) {
    const current = await readFile(file, 'utf8').catch(() => undefined);
    if (current === texts[name]) continue;
    if (values.check) {
      console.error(`${path.relative(process.cwd(), file)} is not what the schemas give now: run npm run contracts`);
      stale++;
    } else {
      await writeFile(file, texts[name]);
      console.log(`wrote ${path.relative(process.cwd(), file)}`);
    }
  }
  if (stale) process.exitCode = 1;
} else {
  const targets = [
    ['openapi', values.openapi],
    ['asyncapi', values.asyncapi ?? (values.openapi ? undefined : '-')],
  ] as const;
  for (const [name, target] of targets) {
    if (target === undefined) continue;
    if (target === '-') {
      process.stdout.write(texts[name]);
    } else {
      await mkdir(path.dirname(path.resolve(target)), { recursive: true });
      await writeFile(target, texts[name]);
    }
  }
}
