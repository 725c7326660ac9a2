import PQueue from 'p-queue';
import { taskWork } from '../agents.js';
import type { Contender } from '../types.js';

/** p-queue as its README shows it: `new PQueue({ concurrency })`, `addAll`, `onIdle`. */
export const pQueue: Contender = {
  id: 'p-queue',
  label: 'p-queue',
  durable: false,
  timed: 'addAll + onIdle',
  async prepare({ tasks, concurrency, agent }) {
    const work = taskWork(agent);
    const functions = Array.from({ length: tasks }, () => work);
    return {
      async run() {
        const queue = new PQueue({ concurrency });
        let completed = 0;
        const all = queue.addAll(functions).then((results) => (completed = results.length));
        await queue.onIdle();
        await all;
        return completed;
      },
      async dispose() {},
    };
  },
};
