/**
 * W5's child process: opens the SQLite store given on the command line, calls `registry.recover()`
 * with a no-op agent for every task, and reports on stdout, in ms since this process started
 * (`performance.now()`): FIRST <ms> when the first task runs, DONE <ms> when all have finished,
 * then one JSON line with the rest.
 *
 * Usage: node --import tsx bench/workloads/recovery-child.ts <db path>
 */
import { ServiceRegistry, type Agent } from '../../src/index.js';
import { SqliteStore } from '../../src/sqlite.js';

const loadedMs = performance.now();
const path = process.argv[2];
if (!path) throw new Error('Usage: recovery-child.ts <db path>');

let firstMs = 0;
let ran = 0;
const agent: Agent = {
  id: 'bench-noop',
  async execute() {
    if (ran === 0) {
      firstMs = performance.now();
      process.stdout.write(`FIRST ${firstMs}\n`);
    }
    ran += 1;
    return null;
  },
};

const registry = new ServiceRegistry({
  store: new SqliteStore({ path }),
  maxConcurrency: 100,
  retry: { maxAttempts: 1 },
});
const report = await registry.recover({ resolveAgent: () => agent });
const recoveredMs = performance.now();
const results = await report.results;
const doneMs = performance.now();
process.stdout.write(`DONE ${doneMs}\n`);
await registry.stop();
const completed = results.filter((result) => result.status === 'COMPLETED').length;
process.stdout.write(
  `${JSON.stringify({ loadedMs, firstMs, recoveredMs, doneMs, recovered: report.recovered.length, completed, ran })}\n`,
);
