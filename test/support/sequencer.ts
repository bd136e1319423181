/**
 * Longest files first, in a clean clone too. Vitest orders a project's files by the durations
 * it cached on the last run, and without a cache (CI, a fresh clone) by file size, which put
 * the two 40-second files near the end of the run, where nothing else could overlap them.
 * Here a file's cached duration is used when there is one, else the seconds it took in a
 * measured run (`file-costs.json`, files of 5 s or more), else vitest's own order.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const COSTS_FILE = path.join(import.meta.dirname, 'file-costs.json');

/** Measured seconds per test file, relative to the project root. */
export function measuredCosts(): Record<string, number> {
  return JSON.parse(readFileSync(COSTS_FILE, 'utf8')) as Record<string, number>;
}

export class LongestFirstSequencer extends BaseSequencer {
  private readonly costs = measuredCosts();

  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files); // groups and projects in order; the rest a tie-break
    const rank = new Map(base.map((f, i) => [f, i]));
    const cost = (f: TestSpecification): number => {
      const relative = path.relative(this.ctx.config.root, f.moduleId).split(path.sep).join('/');
      const cached = this.ctx.cache.getFileTestResults(`${f.project.name}:${relative}`)?.duration;
      return cached !== undefined ? cached / 1000 : (this.costs[relative] ?? 0);
    };
    const group = (f: TestSpecification) => `${String(f.project.config.sequence.groupOrder).padStart(6, '0')}:${f.project.name}`;
    return [...base].sort((a, b) => {
      if (group(a) !== group(b)) return group(a) < group(b) ? -1 : 1;
      return cost(b) - cost(a) || rank.get(a)! - rank.get(b)!;
    });
  }
}
