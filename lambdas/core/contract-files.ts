/**
 * The contracts as the files the openapi function serves (lambdas/contracts/): the HTTP API's
 * OpenAPI document without a server (the function adds the API the request came through) and
 * the monitoring protocol's AsyncAPI document. They are static for a build, so they are written
 * once (`npm run contracts`) and bundled as JSON, rather than converted from zod at run time;
 * a test fails when they are not what the schemas give now.
 */
import { fileURLToPath } from 'node:url';
import { asyncApiDocument } from './asyncapi';
import { openApiDocument } from './openapi';

/** Where each document is kept. */
export const CONTRACT_FILES = {
  openapi: fileURLToPath(new URL('../contracts/openapi.json', import.meta.url)),
  asyncapi: fileURLToPath(new URL('../contracts/asyncapi.json', import.meta.url)),
} as const;

/** Each document's file text, as generated from the schemas now. */
export function contractTexts(): Record<keyof typeof CONTRACT_FILES, string> {
  return {
    openapi: `${JSON.stringify(openApiDocument(), null, 2)}\n`,
    asyncapi: `${JSON.stringify(asyncApiDocument(), null, 2)}\n`,
  };
}
