import { describe, expect, it } from 'vitest';
import { lambdaHeapLimits } from '../../../local/function-runtime';

describe('a local function environment\'s heap', () => {
  it('is split as Lambda\'s Node.js runtime splits the memory: semi-spaces of 5 %, the old generation 90 %', () => {
    expect(lambdaHeapLimits(1024)).toEqual({ maxOldGenerationSizeMb: 922, maxYoungGenerationSizeMb: 3 * 51 });
    expect(lambdaHeapLimits(128)).toEqual({ maxOldGenerationSizeMb: 116, maxYoungGenerationSizeMb: 3 * 6 });
  });
});
