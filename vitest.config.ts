import { defineConfig } from 'vitest/config';

/**
 * Two projects. `unit`: pure and in-process tests on the simulated clock (machines, services, routing,
 * the in-memory engine). `integration`: real stores (SQLite files, PostgreSQL), child processes and the
 * CLI; its global setup compiles `dist/` first, because child processes run compiled JavaScript.
 * `npm test` runs both; `npm run test:unit` / `npm run test:integration` run one.
 */
const INTEGRATION = [
  'test/cli/**/*.test.ts',
  'test/durability/**/*.test.ts',
  'test/repositories/**/*.test.ts',
  'test/bench/**/*.test.ts',
  'test/docs/guides.test.ts',
  'test/docs/monitoring-prometheus.test.ts',
  'test/inspect/websocket-inspector.test.ts',
  'test/inspect/inspector-doc.test.ts',
  'test/testing/package-entry.test.ts',
  // In-process, but on SQLite files and PostgreSQL.
  'test/engine/control.test.ts',
  'test/engine/liveness-window.test.ts',
  'test/engine/circuit-breaker-cluster.test.ts',
  'test/properties/cross-engine-control.test.ts',
  'test/properties/engine-model-stores.test.ts',
  // Memory, SQLite and PostgreSQL in one file (describeEveryStore with test/support/store-kit.ts).
  'test/engine/concurrency.test.ts',
  'test/policies/agent-quotas.test.ts',
  'test/policies/spend-reads.test.ts',
  'test/durability/stored-events-engines.test.ts',
  'test/engine/task-door.test.ts',
  'test/services/executor-batch.test.ts',
  'test/services/executor-cancel-pause.test.ts',
  'test/services/executor-hooks-context.test.ts',
  'test/services/executor-retries-timeouts.test.ts',
  'test/services/retry-task.test.ts',
  'test/services/workflow-tracker.test.ts',
  'test/workflows/graph-properties.test.ts',
  'test/workflows/graph-crash-property.test.ts',
  'test/workflows/graph-sleep.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: INTEGRATION },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: INTEGRATION,
          globalSetup: ['test/support/build-dist.ts'],
        },
      },
    ],
  },
});
