import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    // Two files at a time, also on 2 cores (vitest's default there is one): most of a file's time
    // is waiting (embedded services starting, back-offs, outages and timeouts played out), so the
    // suite took 8.6 minutes rather than 12.8 on this machine's 2 cores.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      // No EMF blobs in test output; the metrics test unsets it for itself.
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
  },
});
