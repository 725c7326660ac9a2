import { taskWork } from '../agents.js';
import type { Contender } from '../types.js';

/** A counting semaphore: the least any engine must do to bound concurrency. */
class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(permits: number) {
    this.free = permits;
  }

  acquire(): Promise<void> | undefined {
    if (this.free > 0) {
      this.free -= 1;
      return undefined;
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free += 1;
  }
}

/** The floor: a plain semaphore loop calling the task function, no engine at all. */
export const floor: Contender = {
  id: 'floor',
  label: 'floor (semaphore loop)',
  durable: false,
  timed: 'the loop over all tasks',
  async prepare({ tasks, concurrency, agent }) {
    const work = taskWork(agent);
    return {
      async run() {
        const semaphore = new Semaphore(concurrency);
        let completed = 0;
        let allDone: () => void = () => {};
        const done = new Promise<void>((resolve) => (allDone = resolve));
        const onDone = () => {
          completed += 1;
          semaphore.release();
          if (completed === tasks) allDone();
        };
        for (let i = 0; i < tasks; i += 1) {
          const wait = semaphore.acquire();
          if (wait) await wait;
          void work().then(onDone);
        }
        if (tasks === 0) allDone();
        await done;
        return completed;
      },
      async dispose() {},
    };
  },
};
