/**
 * bin/generate-contracts.ts, run as a build step runs it: the file it writes, and what it prints
 * without a path, are the document that asyncApiDocument() builds.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../../lambdas/core/asyncapi';

const run = (...args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/generate-contracts.ts', ...args], { cwd: path.resolve(import.meta.dirname, '../..') });

describe('contract generation at build time (bin/generate-contracts.ts)', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('writes the AsyncAPI document to the path given, making its folder', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dh-contracts-'));
    dirs.push(dir);
    const file = path.join(dir, 'public', 'asyncapi.json');

    await run('--asyncapi', file);

    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(asyncApiDocument());
  });

  it('prints the document when no path is given', async () => {
    const { stdout } = await run();

    expect(JSON.parse(stdout)).toEqual(asyncApiDocument());
  });
});
