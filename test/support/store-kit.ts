import { afterEach } from 'vitest';
import type { SimulatedClock } from 'xstate';
import type { ServiceRegistry, Store } from '../../src/index.js';
import {
  createTestRegistry,
  flushEngine,
  TestClock,
  type ManualAgent,
  type TestRegistry,
  type TestRegistryOptions,
} from '../../src/testing/index.js';
import type { BackendFactory } from '../durability/backends.js';

/** Flush rounds after which `settle` gives up: the engine never stops touching its store. */
const MAX_SETTLE_ROUNDS = 10_000;
/** Timers one `advance` may fire (as in src/testing/clock.ts). */
const MAX_TIMER_STEPS = 100_000;
const REPOSITORIES = new Set<PropertyKey>(['tasks', 'workflows', 'agentConfigs']);

/**
 * Watches the calls engines make on their stores, so a test can wait until every write and read
 * they started has been answered (SQLite and PostgreSQL answer later than the memory store does),
 * instead of counting event-loop turns.
 */
export class StoreIo {
  private readonly pending = new Set<Promise<unknown>>();
  private started = 0;

  /** `store` with every call (its repositories' too) watched; give this to the engine. */
  track<S extends Store>(store: S): S {
    return this.wrap(store, true);
  }

  /**
   * What `flushEngine` does, repeated until the engines are quiet: no store call pending and none
   * started during the last `rounds` turns of the event loop.
   */
  async settle(rounds = 5): Promise<void> {
    for (let i = 0; i < MAX_SETTLE_ROUNDS; i += 1) {
      const started = this.started;
      await flushEngine(rounds);
      if (this.pending.size === 0 && this.started === started) return;
      await Promise.allSettled([...this.pending]);
    }
    throw new Error(`The engines kept calling their store through ${MAX_SETTLE_ROUNDS} flushes`);
  }

  /**
   * `advance` from symphony-engine/testing, settling the store after each timer it fires: moves
   * `clock` on by `ms`, firing each timer due within that time at its own time.
   */
  async advance(clock: SimulatedClock, ms: number, rounds = 5): Promise<void> {
    const target = clock.now() + ms;
    await this.settle(rounds);
    if (clock instanceof TestClock) {
      for (let steps = 0; ; steps += 1) {
        const due = clock.nextDue();
        if (due === undefined || due >= target) break;
        if (steps === MAX_TIMER_STEPS) throw new Error(`advance(clock, ${ms}) fired too many timers`);
        clock.set(Math.max(due, clock.now()));
        await this.settle(rounds);
      }
    }
    clock.set(target);
    await this.settle(rounds);
  }

  /**
   * `stopNow` from symphony-engine/testing for stores that answer later: stops `registry` with no
   * grace period, settling the store and firing the timers due on `clock` until the stop is done
   * (however long the store takes to answer).
   */
  async stopNow(registry: ServiceRegistry, clock: SimulatedClock, rounds = 5): Promise<void> {
    let stopped = false;
    const stopping = registry.stop({ graceMs: 0 });
    stopping.then(
      () => (stopped = true),
      () => (stopped = true),
    );
    for (let i = 0; i < MAX_SETTLE_ROUNDS && !stopped; i += 1) {
      await this.settle(rounds);
      clock.increment(0);
    }
    if (!stopped) throw new Error(`The engine did not stop through ${MAX_SETTLE_ROUNDS} settles`);
    await stopping;
  }

  private wrap<T extends object>(target: T, isStore: boolean): T {
    const repositories = new Map<PropertyKey, unknown>();
    return new Proxy(target, {
      get: (object, key) => {
        const value: unknown = Reflect.get(object, key, object);
        if (isStore && REPOSITORIES.has(key) && typeof value === 'object' && value !== null) {
          if (!repositories.has(key)) repositories.set(key, this.wrap(value, false));
          return repositories.get(key);
        }
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = Reflect.apply(value as (...a: unknown[]) => unknown, object, args);
          if (result instanceof Promise) {
            this.started += 1;
            const settled = result.then(
              () => undefined,
              () => undefined,
            );
            this.pending.add(settled);
            void settled.then(() => this.pending.delete(settled));
          }
          return result;
        };
      },
    });
  }
}

export interface StoreKitHandle {
  /** A fresh test registry on a fresh store of the backend, stopped after the test. */
  setup(options?: TestRegistryOptions): TestRegistry;
  /** The registry of the running test. */
  readonly kit: TestRegistry;
  /** The (watched) store of the running test. */
  readonly store: Store;
  /** Creates `count` tasks named t0, t1, ... (in a workflow if given); their ids in order. */
  createTasks(count: number, workflowId?: string): Promise<string[]>;
  /** Lets the engine finish what it can without time passing, store I/O included. */
  flush(rounds?: number): Promise<void>;
  /** Moves the clock on by `ms`, firing due timers one at a time and settling the store after each. */
  advance(clock: SimulatedClock, ms: number): Promise<void>;
}

/**
 * `useTestKit` on one backend of `describeEveryStore`: each test's registry gets a fresh store of
 * that backend (no control polling unless the options ask for it), stopped and closed after the
 * test.
 * @example
 * describeEveryStore('batchExecute', (backend) => {
 *   const { setup, createTasks, flush } = useStoreKit(backend);
 *   it('...', async () => { const { executor } = setup(); ... await flush(); });
 * });
 */
export function useStoreKit(
  backend: BackendFactory,
  defaults: TestRegistryOptions = {},
  prepare: (kit: TestRegistry) => void = () => {},
): StoreKitHandle {
  let current: { kit: TestRegistry; store: Store; io: StoreIo } | undefined;
  afterEach(async () => {
    await current?.kit.stop();
    current = undefined;
  });
  const live = () => {
    if (!current) throw new Error('Call setup() first');
    return current;
  };
  const handle: StoreKitHandle = {
    setup(options = {}) {
      const io = new StoreIo();
      const store = io.track(backend().store);
      const kit = createTestRegistry({ controlPollMs: 0, ...defaults, ...options, store });
      current = { kit, store, io };
      prepare(kit);
      return kit;
    },
    get kit() {
      return live().kit;
    },
    get store() {
      return live().store;
    },
    async createTasks(count, workflowId) {
      const ids: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const task = await live().kit.taskManager.createTask({
          name: `t${i}`,
          ...(workflowId ? { workflowId } : {}),
        });
        ids.push(task.id);
      }
      return ids;
    },
    flush: (rounds) => (current ? current.io.settle(rounds) : flushEngine(rounds)),
    advance: (clock, ms) => live().io.advance(clock, ms),
  };
  return handle;
}

/**
 * Finishes the waiting calls of `agents` one at a time (the first agent's oldest call first),
 * letting the engine settle before each; returns how many calls were waiting at each step. The
 * width seen does not depend on how long the store takes to answer.
 */
export async function finishOneByOne(
  agents: readonly ManualAgent[],
  flush: () => Promise<void>,
  maxSteps = 10_000,
): Promise<number[]> {
  const widths: number[] = [];
  for (let step = 0; step < maxSteps; step += 1) {
    await flush();
    const width = agents.reduce((sum, agent) => sum + agent.waiting.length, 0);
    if (width === 0) return widths;
    widths.push(width);
    const call = agents.find((agent) => agent.waiting.length > 0)!.waiting[0]!;
    call.resolve(call.task.name);
  }
  throw new Error(`Calls still waiting after ${maxSteps} steps`);
}

/** The widths `finishOneByOne` sees for `count` calls under a limit of `limit` at once. */
export function fullLanes(count: number, limit: number): number[] {
  return Array.from({ length: count }, (_, done) => Math.min(limit, count - done));
}
