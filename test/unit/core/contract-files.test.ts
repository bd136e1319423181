/**
 * The contracts the openapi function serves are files generated at build time
 * (lambdas/contracts/): they must be what the schemas give now, or a client would code against
 * a document the handlers no longer keep to. `npm run contracts` writes them again.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONTRACT_FILES, contractTexts } from '../../../lambdas/core/contract-files';

describe('the generated contract files', () => {
  const texts = contractTexts();
  it.each(Object.keys(CONTRACT_FILES) as (keyof typeof CONTRACT_FILES)[])('%s.json is what the schemas give now (npm run contracts writes it)', (name) => {
    expect(readFileSync(CONTRACT_FILES[name], 'utf8'), `lambdas/contracts/${name}.json is stale: run npm run contracts`).toBe(texts[name]);
  });
});
