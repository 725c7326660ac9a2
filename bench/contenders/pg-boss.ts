import PgBoss from 'pg-boss';
import { taskWork } from '../agents.js';
import { dropSchema, pgUrl, uniqueName } from '../services.js';
import type { Contender } from '../types.js';

const INSERT_CHUNK = 1000;

/**
 * pg-boss with the batching it offers: jobs written with `insert` (1,000 a call), fetched with
 * `fetch(name, { batchSize: concurrency })`, run together, and acknowledged with one
 * `complete(name, ids)`. Its own schema per run (dropped afterwards); cron scheduling and the
 * maintenance supervisor are off so that nothing else competes for the database.
 */
export const pgBoss: Contender = {
  id: 'pg-boss',
  label: 'pg-boss (PostgreSQL)',
  durable: true,
  timed: 'insert + fetch/complete loop until every job completed',
  async prepare({ tasks, concurrency, agent }) {
    const work = taskWork(agent);
    const schema = uniqueName('pgboss_bench');
    const boss = new PgBoss({ connectionString: pgUrl(), schema, supervise: false, schedule: false });
    boss.on('error', () => {});
    await boss.start();
    const name = 'bench';
    await boss.createQueue(name);
    const jobs = Array.from({ length: tasks }, (_, i) => ({ name, data: { i } }));
    return {
      async run() {
        let inserted = false;
        const producer = (async () => {
          for (let start = 0; start < tasks; start += INSERT_CHUNK) {
            await boss.insert(jobs.slice(start, start + INSERT_CHUNK));
          }
          inserted = true;
        })();
        let completed = 0;
        while (completed < tasks) {
          const batch = await boss.fetch(name, { batchSize: concurrency });
          if (batch.length === 0) {
            if (inserted) break;
            await new Promise((resolve) => setImmediate(resolve));
            continue;
          }
          await Promise.all(batch.map(() => work()));
          await boss.complete(
            name,
            batch.map((job) => job.id),
          );
          completed += batch.length;
        }
        await producer;
        return completed;
      },
      async dispose() {
        await boss.stop({ graceful: false, wait: true });
        await dropSchema(schema);
      },
    };
  },
};
