/**
 * Writes the machine-readable contracts at build time: the WebSocket monitoring protocol's
 * AsyncAPI document (lambdas/core/asyncapi.ts), which is static for a build, so it can be served
 * as a file rather than converted from zod at run time.
 *
 *   node --import tsx bin/generate-contracts.ts [--asyncapi PATH]
 *
 * Without --asyncapi (or with `-`), the document goes to standard output.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { asyncApiDocument } from '../lambdas/core/asyncapi';

const USAGE = 'Usage: node --import tsx bin/generate-contracts.ts [--asyncapi PATH]   (default: standard output)';

const { values } = parseArgs({ options: { asyncapi: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true });
if (values.help) {
  console.log(USAGE);
} else {
  const text = `${JSON.stringify(asyncApiDocument(), null, 2)}\n`;
  if (!values.asyncapi || values.asyncapi === '-') {
    process.stdout.write(text);
  } else {
    await mkdir(path.dirname(path.resolve(values.asyncapi)), { recursive: true });
    await writeFile(values.asyncapi, text);
  }
}
