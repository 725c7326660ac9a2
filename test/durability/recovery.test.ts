import { afterEach, expect, it } from 'vitest';
import { ServiceRegistry, type Agent, type Store } from '../../src/index.js';
import { createTestClock, manualAgent, sequentialIds } from '../../src/testing/index.js';
import { samplePlan, sampleTask } from '../../src/testing/samples.js';
import { StoreIo } from '../support/store-kit.js';
import { describeEveryStore } from './backends.js';

describeEveryStore('recovery from the store', (backend) => {
  let open: ServiceRegistry[] = [];
  let io = new StoreIo();
  afterEach(async () => {
    for (const registry of open) await registry.stop({ graceMs: 0 }).catch(() => {});
    open = [];
    io = new StoreIo();
  });
  const flushEngine = () => io.settle();
  const advance = (clock: ReturnType<typeof createTestClock>, ms: number) => io.advance(clock, ms);

  /** A fresh store of the backend, and a second handle on its data for the engine started later. */
  function stores(): { store: Store; reopen: () => Store } {
    const { store, reopen } = backend();
    return { store: io.track(store), reopen: () => io.track(reopen()) };
  }

  /** An engine on `store` whose clock starts at `start`; two of them on one store stand for a restart. */
  function engine(store: Store, start = 10_000, engineId = 'one') {
    const clock = createTestClock(start);
    const registry = new ServiceRegistry({
      store,
      clock,
      engineId,
      idGenerator: sequentialIds(`${engineId}-${open.length}-`),
      random: () => 0.5,
      retry: { maxAttempts: 3, initialDelayMs: 1_000, jitter: 0 },
      // No beats: these engines run on clocks of their own, so leases alone decide (as on memory).
      controlPollMs: 0,
    });
    open.push(registry);
    const factory = registry.getAgentFactory();
    return { registry, clock, factory };
  }

  it('fires a waiting retry at its recorded due time, not earlier', async () => {
    const { store, reopen } = stores();
    const first = engine(store);
    let calls = 0;
    const flaky = () => ({
      execute: async (): Promise<unknown> => {
        calls += 1;
        if (calls === 1) throw new Error('first attempt fails');
        return 'done';
      },
    });
    first.factory.registerAgentType('flaky', flaky);
    const config = await first.factory.createAgentConfig({ name: 'Flaky', type: 'flaky' });
    const task = await first.registry.getTaskManager().createTask({ name: 'retry me' });
    void first.registry
      .getEnhancedExecutor()
      .executeTask(task.id, await first.factory.createAgent(config.id))
      .catch(() => {});
    await flushEngine();
    const waiting = await store.tasks.get(task.id);
    expect(waiting).toMatchObject({ status: 'PENDING', attempts: 1, runAfter: 11_000 });
    // The process dies here; 400 ms later a new one starts.
    const second = engine(reopen(), 10_400, 'one');
    second.factory.registerAgentType('flaky', flaky);
    const report = await second.registry.recover();
    expect(report.recovered).toEqual([task.id]);
    await advance(second.clock, 599);
    expect(calls).toBe(1);
    await advance(second.clock, 1);
    const [result] = await report.results;
    expect(calls).toBe(2);
    expect(result).toMatchObject({ status: 'COMPLETED', attempts: 2, output: 'done' });
  });

  it('counts a RUNNING attempt as interrupted and runs it again; a paused workflow stays paused', async () => {
    const { store, reopen } = stores();
    const first = engine(store);
    const hanging = manualAgent('hang');
    first.factory.registerAgentType('manual', () => hanging);
    const config = await first.factory.createAgentConfig({
      name: 'Manual',
      type: 'manual',
      maxConcurrency: 1,
    });
    const workflow = await first.registry.getWorkflowTracker().createWorkflow({ name: 'w' });
    const tasks = first.registry.getTaskManager();
    const a = await tasks.createTask({ name: 'a', workflowId: workflow.id });
    const b = await tasks.createTask({ name: 'b', workflowId: workflow.id });
    const agent: Agent = await first.factory.createAgent(config.id);
    const executor = first.registry.getEnhancedExecutor();
    void executor
      .batchExecute(
        [
          [a.id, agent],
          [b.id, agent],
        ],
        { workflowId: workflow.id },
      )
      .catch(() => {});
    await flushEngine();
    await first.registry.getWorkflowTracker().pauseWorkflow(workflow.id);
    expect((await store.tasks.get(a.id))?.status).toBe('RUNNING');
    expect((await store.tasks.get(b.id))?.status).toBe('PENDING');

    // Killed while `a` runs and the workflow is paused. The next engine runs a fresh agent.
    const second = engine(reopen(), 20_000, 'one');
    const fresh = manualAgent('fresh');
    second.factory.registerAgentType('manual', () => fresh);
    const report = await second.registry.recover();
    expect(report.recovered.sort()).toEqual([a.id, b.id].sort());
    const interrupted = await store.tasks.get(a.id);
    expect(interrupted?.status).toBe('PENDING');
    expect(interrupted?.errors.map((error) => error.code)).toEqual(['ATTEMPT_INTERRUPTED']);
    expect((await second.registry.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('PAUSED');
    await advance(second.clock, 5_000);
    expect(fresh.calls).toHaveLength(0);

    await second.registry.getWorkflowTracker().resumeWorkflow(workflow.id);
    await advance(second.clock, 5_000);
    fresh.resolveNext('a done');
    await flushEngine();
    fresh.resolveNext('b done');
    const results = await report.results;
    expect(results.map((result) => result.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect((await store.tasks.get(a.id))?.attempts).toBe(2);
    expect(await store.completions()).toHaveLength(2);
    expect((await second.registry.getWorkflowTracker().getWorkflow(workflow.id)).status).toBe('COMPLETED');
  });

  it('leaves a running attempt alone while another engine holds an unexpired lease', async () => {
    const { store, reopen } = stores();
    const first = engine(store, 10_000, 'engine-a');
    const hanging = manualAgent('hang');
    first.factory.registerAgentType('manual', () => hanging);
    const config = await first.factory.createAgentConfig({ name: 'Manual', type: 'manual' });
    const task = await first.registry.getTaskManager().createTask({ name: 'leased' });
    void first.registry
      .getEnhancedExecutor()
      .executeTask(task.id, await first.factory.createAgent(config.id), null, { timeoutMs: 60_000 })
      .catch(() => {});
    await flushEngine();
    expect(await store.tasks.get(task.id)).toMatchObject({ leaseOwner: 'engine-a', leaseExpiresAt: 70_000 });

    const other = engine(reopen(), 20_000, 'engine-b');
    other.factory.registerAgentType('manual', () => manualAgent('other'));
    expect((await other.registry.recover()).leasedElsewhere).toEqual([task.id]);
    const later = engine(reopen(), 70_000, 'engine-c');
    later.factory.registerAgentType('manual', () => manualAgent('later'));
    expect((await later.registry.recover()).recovered).toEqual([task.id]);
  });

  it('resumes every task of a batch stopped midway, including those still waiting for a lane', async () => {
    const { store, reopen } = stores();
    const first = engine(store);
    first.factory.registerAgentType('manual', () => manualAgent('first'));
    const config = await first.factory.createAgentConfig({ name: 'Manual', type: 'manual' });
    const ids = [];
    for (const name of ['a', 'b', 'c'])
      ids.push((await first.registry.getTaskManager().createTask({ name })).id);
    const agent = await first.factory.createAgent(config.id);
    const batch = first.registry.getEnhancedExecutor().batchExecute(
      ids.map((id) => [id, agent] as const),
      { maxConcurrent: 1 },
    );
    batch.catch(() => {}); // it rejects while stop() is still under way, before the expect below
    await flushEngine();
    await first.registry.stop({ graceMs: 0 });
    await expect(batch).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });

    const second = engine(reopen(), 20_000);
    const fresh = manualAgent('second');
    second.factory.registerAgentType('manual', () => fresh);
    const report = await second.registry.recover();
    expect(report.recovered.sort()).toEqual([...ids].sort());
    await advance(second.clock, 1_000);
    for (let i = 0; i < 3; i += 1) {
      fresh.resolveNext(`done ${i}`);
      await flushEngine();
    }
    expect((await report.results).map((result) => result.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
    ]);
  });

  it('reads unfinished tasks a page at a time and starts running before the last page is read', async () => {
    const { store } = stores();
    const plan = samplePlan('noop');
    const ids: string[] = [];
    for (let i = 0; i < 2_000; i += 1) ids.push(`t${String(i).padStart(4, '0')}`);
    // Written out of id order, with finished and plan-less tasks among them (the engine's open()
    // of the store later does nothing more).
    await store.open();
    await store.tasks.saveMany(
      [...ids]
        .reverse()
        .map((id, i) =>
          sampleTask(id, i % 10 === 0 ? { status: 'COMPLETED', execution: plan } : { execution: plan }),
        ),
    );
    await store.tasks.saveMany([sampleTask('no-plan')]);
    const pending = ids.filter((_, i) => (ids.length - 1 - i) % 10 !== 0);
    const find = store.tasks.find.bind(store.tasks);
    const ranAtRead: number[] = [];
    let ran = 0;
    store.tasks.find = (query) => {
      ranAtRead.push(ran);
      return find(query);
    };
    const { registry } = engine(store);
    const noop: Agent = {
      id: 'noop',
      async execute() {
        ran += 1;
        return null;
      },
    };
    const report = await registry.recover({ resolveAgent: () => noop });
    expect(report.recovered).toEqual(pending);
    expect(report.unresolved).toEqual([]);
    const results = await report.results;
    expect(ran).toBe(pending.length);
    expect(results.every((result) => result.status === 'COMPLETED')).toBe(true);
    // Several pages of PENDING tasks (500, then 1,000, ...): the first ran before the last was read.
    expect(ranAtRead.length).toBeGreaterThan(3);
    expect(ranAtRead[ranAtRead.length - 1]).toBeGreaterThan(0);
  });
});
