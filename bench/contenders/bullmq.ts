import { Queue, Worker } from 'bullmq';
import { taskWork } from '../agents.js';
import { REDIS_HOST, uniqueName } from '../services.js';
import type { Contender } from '../types.js';

export interface BullmqTarget {
  id: string;
  label: string;
  /** The Redis port, known once the server is up. */
  port: () => number;
  /** True when that Redis writes an append-only file. */
  durable: boolean;
}

const BULK = 1000;

/**
 * BullMQ as its docs advise for throughput: jobs added with `addBulk` (1,000 a call), one Worker
 * with `concurrency`, default job options (completed jobs kept), a queue of its own per run,
 * obliterated afterwards.
 */
export function bullmq(target: BullmqTarget): Contender {
  return {
    id: target.id,
    label: target.label,
    durable: target.durable,
    timed: 'addBulk + Worker until every job completed',
    async prepare({ tasks, concurrency, agent }) {
      const work = taskWork(agent);
      const connection = { host: REDIS_HOST, port: target.port(), maxRetriesPerRequest: null };
      const name = uniqueName('bench');
      const queue = new Queue(name, { connection });
      let settled = 0;
      let completed = 0;
      let allSettled: () => void = () => {};
      const done = new Promise<void>((resolve) => (allSettled = resolve));
      const settle = () => {
        settled += 1;
        if (settled === tasks) allSettled();
      };
      const worker = new Worker(name, () => work(), { connection, concurrency, autorun: false });
      worker.on('completed', () => {
        completed += 1;
        settle();
      });
      worker.on('failed', settle);
      worker.on('error', () => {});
      await queue.waitUntilReady();
      await worker.waitUntilReady();
      const jobs = Array.from({ length: tasks }, (_, i) => ({ name: 'task', data: { i } }));
      return {
        async run() {
          const running = worker.run();
          for (let start = 0; start < tasks; start += BULK)
            await queue.addBulk(jobs.slice(start, start + BULK));
          if (tasks > 0) await done;
          void running;
          return completed;
        },
        async dispose() {
          await worker.close();
          await queue.obliterate({ force: true });
          await queue.close();
        },
      };
    },
  };
}
