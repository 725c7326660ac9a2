import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { WebSocketServer } from 'ws';
import { ServiceRegistry } from '../../src/index.js';
import { createSymphonyInspector, type SymphonyInspector } from '../../src/inspect/index.js';
import { failingAgent, succeedingAgent } from '../../src/testing/index.js';
import { compiledFixture } from '../support/fixtures.js';

// Issue #4: `--inspect` streams every actor to a Stately inspector WebSocket and never keeps the
// process alive or slows it when nothing listens. The tests wait on what happened (messages, status,
// the inspector's retry timer being armed), with bounds that only a hang reaches (issue 9).

/** Bounds of waits for sockets and child processes: they return as soon as the state is there. */
const SETTLE = { timeout: 30_000, interval: 5 };

const FIXTURE = fileURLToPath(new URL('./fixtures/inspected-run.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Message {
  type: string;
  name?: string;
  definition?: string;
  sessionId: string;
  rootId: string;
  parentId?: string;
  event?: { type: string };
  snapshot?: { value?: unknown; status?: string };
  _version: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A WebSocket server on an ephemeral port that records every message it gets. */
async function listen(): Promise<{ url: string; port: number; messages: Message[] }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const messages: Message[] = [];
  server.on('connection', (socket, request) => {
    request.socket.unref();
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as Message));
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as net.AddressInfo;
  return { url: `ws://127.0.0.1:${port}`, port, messages };
}

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function track(inspector: SymphonyInspector): SymphonyInspector {
  cleanups.push(() => inspector.stop());
  return inspector;
}

async function runSmallWorkflow(registry: ServiceRegistry) {
  const factory = registry.getAgentFactory();
  factory.registerAgentType('echo', () => succeedingAgent('echo-impl', 'hi'));
  await factory.createAgentConfig({ name: 'Echo', type: 'echo', capabilities: ['text'] });
  const workflow = await registry.getWorkflowTracker().createWorkflow({ name: 'inspected' });
  const tasks = registry.getTaskManager();
  const tagged = await tasks.createTask({ name: 'tagged', tags: ['text'], workflowId: workflow.id });
  const agent = await factory.createAgent(await registry.getTaskRouter().routeTask(tagged));
  const executor = registry.getEnhancedExecutor();
  await executor.executeTask(tagged.id, agent);
  const failing = await tasks.createTask({ name: 'failing', workflowId: workflow.id });
  await executor.executeTask(failing.id, failingAgent('flaky', Infinity), workflow.id, {
    retry: { maxAttempts: 1 },
  });
  return workflow;
}

function machineIdOf(message: Message): string {
  return String((JSON.parse(message.definition ?? '{}') as { id?: unknown }).id);
}

/** A synthetic inspection event of an actor called `name`. */
function actorEvent(name: string): InspectionEvent {
  const actorRef = { id: name, sessionId: name, getSnapshot: () => ({ status: 'active' }) };
  return { type: '@xstate.actor', rootId: name, actorRef } as unknown as InspectionEvent;
}

describe('createSymphonyInspector', () => {
  it('streams actors of all five kinds, their events and snapshots, to a WebSocket server', async () => {
    const { url, messages } = await listen();
    const inspector = track(createSymphonyInspector(url));
    const registry = new ServiceRegistry({ store: ':memory:', inspect: inspector.inspect });
    cleanups.push(() => registry.stop());
    const workflow = await runSmallWorkflow(registry);

    await vi.waitFor(() => {
      const kinds = new Set(messages.filter((m) => m.type === '@xstate.actor').map(machineIdOf));
      expect([...kinds]).toEqual(
        expect.arrayContaining(['task', 'workflow', 'executor', 'agent', 'router', 'engine']),
      );
      expect(messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'FAILED')).toBe(
        true,
      );
    }, SETTLE);
    expect(inspector.status).toBe('open');

    const actors = messages.filter((m) => m.type === '@xstate.actor');
    expect(actors.map((m) => m.name)).toEqual(expect.arrayContaining(['engine', 'executor', 'router']));
    expect(actors.map((m) => m.name)).toContain(`workflow:${workflow.id}`);
    const engine = actors.find((m) => m.name === 'engine')!;
    const executor = actors.find((m) => m.name === 'executor')!;
    expect(executor.parentId).toBe(engine.sessionId);
    expect(executor.rootId).toBe(engine.sessionId);
    const agent = actors.find((m) => machineIdOf(m) === 'agent')!;
    expect(agent.parentId).toBe(executor.sessionId);
    // Every message carries the fields the Stately inspector reads.
    for (const message of messages) {
      expect(message).toMatchObject({ sessionId: expect.any(String), _version: expect.any(String) });
      expect(['@xstate.actor', '@xstate.event', '@xstate.snapshot']).toContain(message.type);
    }
    const taskSessions = new Set(actors.filter((m) => machineIdOf(m) === 'task').map((m) => m.sessionId));
    const taskEvents = messages
      .filter((m) => m.type === '@xstate.event' && taskSessions.has(m.sessionId))
      .map((m) => m.event?.type);
    expect(taskEvents).toEqual(expect.arrayContaining(['START', 'SUCCEED', 'FAIL']));
    // The task machine's definition is the whole machine, so the inspector can draw it.
    const taskDefinition = JSON.parse(actors.find((m) => machineIdOf(m) === 'task')!.definition!) as {
      states: Record<string, unknown>;
    };
    expect(Object.keys(taskDefinition.states)).toEqual(
      expect.arrayContaining(['PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'PAUSED', 'CANCELLED']),
    );
  });

  it('buffers events seen before the socket opens and keeps only the newest past the cap', async () => {
    const { url, messages } = await listen();
    const inspector = track(createSymphonyInspector(url, { maxBufferedEvents: 3 }));
    expect(inspector.status).toBe('connecting');
    for (let i = 0; i < 10; i += 1) inspector.inspect.next?.(actorEvent(`a${i}`));

    await vi.waitFor(() => expect(messages).toHaveLength(3), SETTLE);
    expect(messages.map((m) => m.name)).toEqual(['a7', 'a8', 'a9']);
    expect(inspector.dropped).toBe(7);
    inspector.inspect.next?.(actorEvent('late'));
    await vi.waitFor(() => expect(messages.map((m) => m.name)).toContain('late'), SETTLE);
  });

  it('stop() before the socket opens still delivers the buffered events, then closes', async () => {
    const { url, messages } = await listen();
    const inspector = createSymphonyInspector(url);
    const { inspect, stop } = inspector;
    inspect.next?.(actorEvent('before-stop'));
    await stop();
    inspect.next?.(actorEvent('after-stop'));
    expect(inspector.status).toBe('closed');
    await vi.waitFor(() => expect(messages.map((m) => m.name)).toEqual(['before-stop']), SETTLE);
  });

  it('gives up after a few refused connections and then ignores every event', async () => {
    const port = await closedPort();
    const onGiveUp = vi.fn();
    const inspector = track(
      createSymphonyInspector(`ws://127.0.0.1:${port}`, { maxConnectAttempts: 3, retryDelayMs: 5, onGiveUp }),
    );
    inspector.inspect.next?.(actorEvent('early'));
    await vi.waitFor(() => expect(inspector.status).toBe('closed'), SETTLE);
    expect(onGiveUp).toHaveBeenCalledTimes(1);
    expect(String(onGiveUp.mock.calls[0]![0])).toMatch(/ECONNREFUSED/);
    inspector.inspect.next?.(actorEvent('ignored'));
    await inspector.stop();
  });

  it('holds no ref’d socket or timer, neither while retrying nor once connected', async () => {
    const keepingAlive = () => {
      const counts = new Map<string, number>();
      for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
      return counts;
    };
    const added = (before: Map<string, number>) =>
      [...keepingAlive()].filter(([kind, count]) => count > (before.get(kind) ?? 0)).map(([kind]) => kind);

    const processListeners = () => process.eventNames().map((name) => process.listenerCount(name));
    const listenersBefore = processListeners();
    const port = await closedPort();
    let before = keepingAlive();
    // The first attempt is refused at once; the retry then waits on a timer (a minute: no second
    // attempt comes during the test). Wait until that timer is armed, not for a guessed time.
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const retrying = track(createSymphonyInspector(`ws://127.0.0.1:${port}`, { retryDelayMs: 60_000 }));
    retrying.inspect.next?.(actorEvent('early'));
    await vi.waitFor(() => expect(timers.mock.calls.map(([, ms]) => ms)).toContain(60_000), SETTLE);
    timers.mockRestore();
    expect(retrying.status).toBe('connecting');
    expect(added(before)).toEqual([]);

    const { url, messages } = await listen();
    before = keepingAlive();
    const open = track(createSymphonyInspector(url));
    await vi.waitFor(() => expect(open.status).toBe('open'), SETTLE);
    open.inspect.next?.(actorEvent('sent'));
    await vi.waitFor(() => expect(messages).toHaveLength(1), SETTLE);
    expect(added(before)).toEqual([]);
    await open.stop();
    expect(open.status).toBe('closed');
    expect(processListeners()).toEqual(listenersBefore);
  });

  it('rejects a URL that is not ws:// or wss://', () => {
    expect(() => createSymphonyInspector('http://localhost:8080')).toThrow(/ws:\/\/ or wss:\/\//);
    expect(() => createSymphonyInspector('ws://x', { maxBufferedEvents: -1 })).toThrow(/maxBufferedEvents/);
  });
});

/**
 * Runs the fixture (compiled JavaScript) in a child process; resolves with its exit code and output,
 * rejects if it has not exited after `limitMs`: a bound only a process kept alive reaches.
 */
function runChild(url: string, stopInspector: 'yes' | 'no', limitMs = CHILD_LIMIT_MS) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [compiledFixture(FIXTURE), url, stopInspector], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The child did not exit within ${limitMs} ms; stderr: ${stderr}`));
    }, limitMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A child that does not exit is killed after this. When nothing answers the upgrade, the inspector's
 * connect attempt holds the process for up to connectTimeoutMs (2 s) before it can end: the bound
 * leaves room for a slow start on a busy machine.
 */
const CHILD_LIMIT_MS = 45_000;

describe('a process with an inspector exits by itself', { timeout: 60_000 }, () => {
  it('when nothing listens on the port, even without inspector.stop()', async () => {
    const port = await closedPort();
    const run = await runChild(`ws://127.0.0.1:${port}`, 'no');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'COMPLETED' });
  });

  it('when the endpoint accepts TCP but never answers the WebSocket upgrade', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => silent.close(() => resolve())));
    silent.on('connection', (socket) => {
      socket.unref();
      cleanups.push(() => void socket.destroy());
    });
    const { port } = silent.address() as net.AddressInfo;
    const run = await runChild(`ws://127.0.0.1:${port}`, 'no');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'COMPLETED', inspector: 'connecting' });
  });

  it('when an inspector listens: the events arrive and the process still exits, stopped or not', async () => {
    const { url, messages } = await listen();
    for (const stop of ['yes', 'no'] as const) {
      const run = await runChild(url, stop);
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: 'COMPLETED' });
    }
    await vi.waitFor(() => {
      const kinds = messages.filter((m) => m.type === '@xstate.actor').map(machineIdOf);
      expect(kinds.filter((kind) => kind === 'task')).toHaveLength(2);
    }, SETTLE);
  });
});
