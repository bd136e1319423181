/**
 * The suite's order: the measured costs name files that exist, so a renamed or removed file
 * cannot leave the sequencer ranking nothing in its place.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/bundling';
import { measuredCosts } from '../support/sequencer';

describe('the measured test costs', () => {
  it('name only test files that exist, each with a positive number of seconds', () => {
    // Arrange
    const costs = Object.entries(measuredCosts());

    // Act
    const missing = costs.filter(([file]) => !existsSync(path.join(PROJECT_ROOT, file)));
    const bad = costs.filter(([file, seconds]) => !file.endsWith('.test.ts') || !(seconds > 0));

    // Assert
    expect(costs.length).toBeGreaterThan(10);
    expect(missing).toEqual([]);
    expect(bad).toEqual([]);
  });
});
