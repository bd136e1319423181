/**
 * A scratch directory for the run, removed when it ends: what tests write and do not clean up
 * themselves (each CDK app's cloud assembly, which CDK otherwise leaves in the system's temp
 * directory, 20 MB and more a synth) goes under it. Each test project gets its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    scratchDir: string;
  }
}

export default async function setup(project: TestProject) {
  const dir = await mkdtemp(path.join(tmpdir(), `dh-${project.name}-scratch-`));
  project.provide('scratchDir', dir);
  return async () => {
    await rm(dir, { recursive: true, force: true });
  };
}
