import { afterEach, expect, it, vi } from 'vitest';
import type { AgentConfig, ServiceRegistry, Store } from '../../src/index.js';
import { describeEveryStore, useEngines } from './backends.js';

// Issue 13, cluster-wide limits: the router's load snapshot holds across the workers on a store
// (counted in the store, not per process).

/** Polls `check` until it holds; fails after `ms` (generous: the suite runs alongside other work). */
async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Registers the agent type `gated`: each run waits until `open` resolves. */
function registerGatedAgent(registry: ServiceRegistry, open: Promise<void>): void {
  registry.getAgentFactory().registerAgentType('gated', () => ({
    async execute() {
      await open;
      return { done: true };
    },
  }));
}

/** Tasks of `config` RUNNING in the store and held by `engineId`. */
async function runningHeld(store: Store, config: AgentConfig, engineId: string): Promise<number> {
  const rows = await store.tasks.find({ where: { status: 'RUNNING' } });
  return rows.filter((t) => t.execution?.agentKey === config.id && t.leaseOwner === engineId).length;
}

describeEveryStore('cluster-wide router load', (backend) => {
  const engine = useEngines();
  /** Opens the gates of the test's agents (also when it fails: stopping waits for running attempts). */
  let openGates = (): void => {};
  afterEach(() => openGates());

  it("a worker's router counts what another worker holds, and LOAD_BALANCED routes around it", async () => {
    const b = backend();
    const submitter = engine(b.store);
    const factory = submitter.getAgentFactory();
    // `loaded` has the lower id: with no load anywhere LOAD_BALANCED picks it (ties go to the lower id).
    const [loaded, idle] = (
      await Promise.all([
        factory.createAgentConfig({ name: 'One', type: 'gated', maxConcurrency: 5 }),
        factory.createAgentConfig({ name: 'Two', type: 'gated', maxConcurrency: 5 }),
      ])
    ).sort((x, y) => (x.id < y.id ? -1 : 1)) as [AgentConfig, AgentConfig];
    const manager = submitter.getTaskManager();
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) ids.push((await manager.createTask({ name: `held ${i}` })).id);
    await submitter.getEnhancedExecutor().enqueueTasks(ids.map((id) => [id, loaded.id] as const));

    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    openGates = open;
    const a = engine(b.reopen(), { engineId: 'engine-a', controlPollMs: 20 });
    registerGatedAgent(a, gate);
    const workerA = await a.startWorker({ pollMs: 10 });
    await until(async () => (await runningHeld(b.store, loaded, 'engine-a')) === 3, 'A running 3 tasks');

    const wb = engine(b.reopen(), { engineId: 'engine-b', controlPollMs: 20 });
    registerGatedAgent(wb, gate);
    const workerB = await wb.startWorker({ pollMs: 10 });
    const router = wb.getTaskRouter();

    // B runs nothing itself: its snapshot shows A's attempts in flight on `loaded`.
    const load = await router.getLoad();
    expect(load.get(loaded.id)).toMatchObject({ inFlight: 3, queued: 0 });
    expect(load.get(idle.id)?.inFlight ?? 0).toBe(0);
    expect((await router.getLoad({ cluster: false })).get(loaded.id)?.inFlight ?? 0).toBe(0);

    const next = await manager.createTask({ name: 'to route' });
    await expect(router.routeTask(next, { strategy: 'LOAD_BALANCED' })).resolves.toBe(idle.id);
    await expect(router.routeTask(next, { strategy: 'LOAD_BALANCED', cluster: false })).resolves.toBe(
      loaded.id,
    );
    // A batch spreads over what is held elsewhere too: `idle` takes tasks until it matches `loaded`.
    const batch = await Promise.all([1, 2, 3, 4].map((i) => manager.createTask({ name: `batch ${i}` })));
    const picks = await router.routeTasks(batch, { strategy: 'LOAD_BALANCED' });
    expect(picks.filter((id) => id === idle.id)).toHaveLength(3);

    // Once A's tasks end, B's next reads (one per control poll at most) see the load gone.
    open();
    await until(
      async () => (await b.store.tasks.count({ status: 'COMPLETED' })) === ids.length,
      'A completing its tasks',
    );
    await until(
      async () => ((await router.getLoad()).get(loaded.id)?.inFlight ?? 0) === 0,
      "B's snapshot dropping A's load",
    );
    await workerB.stop();
    await workerA.stop();
  });

  it('an engine that runs no worker reads the store only when asked (option or call)', async () => {
    const b = backend();
    const store = b.store;
    const submitter = engine(store);
    const config = await submitter
      .getAgentFactory()
      .createAgentConfig({ name: 'One', type: 'gated', maxConcurrency: 5 });
    const task = await submitter.getTaskManager().createTask({ name: 'held' });
    await submitter.getEnhancedExecutor().enqueueTask(task.id, config.id);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    openGates = open;
    const a = engine(b.reopen(), { engineId: 'engine-a', controlPollMs: 20 });
    registerGatedAgent(a, gate);
    const worker = await a.startWorker({ pollMs: 10 });
    await until(async () => (await runningHeld(store, config, 'engine-a')) === 1, 'A running the task');

    const reads = vi.spyOn(store, 'heldLoad');
    const router = submitter.getTaskRouter();
    expect((await router.getLoad()).get(config.id)).toBeUndefined();
    expect(reads).not.toHaveBeenCalled();
    expect((await router.getLoad({ cluster: true })).get(config.id)).toMatchObject({ inFlight: 1 });
    expect(reads).toHaveBeenCalledTimes(1);

    const optedIn = engine(b.reopen(), { clusterLoad: true });
    expect((await optedIn.getTaskRouter().getLoad()).get(config.id)).toMatchObject({ inFlight: 1 });
    open();
    await worker.stop();
  });
});
