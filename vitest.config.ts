import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/support/sequencer';

/**
 * Two tiers. `fast`: unit and infrastructure tests, which need no service (`npm run test:fast`).
 * `services`: everything that runs against the embedded PostgreSQL, SQS and DynamoDB, which
 * the global setup starts once for that project only. `npm test` runs both.
 */
const FAST = ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'];
/** Infrastructure tests that also provision on the embedded services. */
const FAST_NEEDING_SERVICES = ['test/infra/localstack.test.ts'];
/** Infrastructure tests that run the whole CDK app in a child process, cdk-nag included: full suite only. */
const SLOW_INFRA = ['test/infra/app-context.test.ts'];

export default defineConfig({
  test: {
    pool: 'forks',
    // Four files at a time, also on 2 cores (vitest's default there is one): much of a file's
    // time is waiting (embedded services starting, back-offs, outages and timeouts played out).
    // The full suite took 389 s with two (CPU 137%), 329 s with three (CPU 176%); later, with
    // the stack's CPU cut, 193 s with three (CPU 156%) and 173 s with four (CPU 175%).
    maxWorkers: 4,
    // Longest files first, also without vitest's cache (a clean clone): see the sequencer.
    sequence: { sequencer: LongestFirstSequencer },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      LOG_LEVEL: 'warn',
      // No EMF blobs in test output; the metrics test unsets it for itself.
      POWERTOOLS_METRICS_DISABLED: 'true',
    },
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: FAST,
          exclude: [...FAST_NEEDING_SERVICES, ...SLOW_INFRA],
          // One module graph per worker: aws-cdk-lib is imported, and a stack with the same props
          // synthesized (test/infra/stack.ts), once per worker rather than once per file.
          isolate: false,
          // Two here: these files are all CPU, and each worker synthesizes its own shared stacks.
          // (A project with a worker count of its own runs as a group of its own: this one first.)
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
          globalSetup: ['test/support/scratch-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'services',
          include: ['test/{integration,e2e,artifacts,browser}/**/*.test.ts', ...FAST_NEEDING_SERVICES, ...SLOW_INFRA],
          globalSetup: ['test/support/scratch-setup.ts', 'test/support/global-setup.ts'],
          // One module graph per worker here too: each file makes its own database, queues,
          // tables and stacks, and restores any variable it sets. Importing the SDK, pg and the
          // local stack once per worker rather than once per file took the project from 650 to
          // 510 CPU-seconds (395 s → 351 s on 2 cores).
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
