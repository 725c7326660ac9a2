import {
  DEMO_AGENT_CONFIGS,
  DEMO_BATCH_CONCURRENCY,
  DEMO_ENGINE_OPTIONS,
  planDemo,
  registerDemoAgents,
} from '../../../examples/demo.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Agent, TaskAgentPair } from '../../index.js';
import { CliUsageError } from '../cli-error.js';
import { ensureAgentConfigs } from '../agent-configs.js';
import { catchInterrupts, runWatched } from '../execute.js';
import { println, type CliIO } from '../io.js';
import { toMetadata } from '../run-record.js';
import { openSession, resolveDbSpec } from '../store.js';
import { finishRun, type CommonOptions } from './common.js';

export interface DemoOptions extends CommonOptions {
  /** Milliseconds each attempt waits before working, to have time to watch, pause or cancel. */
  pace?: string;
}

function parsePace(value: string | undefined): number {
  if (value === undefined) return 0;
  const pace = Number(value);
  if (!Number.isInteger(pace) || pace < 0) {
    throw new CliUsageError(`--pace: expected an integer >= 0 (milliseconds), got ${JSON.stringify(value)}`);
  }
  return pace;
}

/** The same agents, each attempt starting after `pace` ms (cut short if the attempt is aborted). */
function paced(pairs: TaskAgentPair[], pace: number): TaskAgentPair[] {
  if (pace === 0) return pairs;
  const wrapped = new Map<Agent, Agent>();
  return pairs.map(([taskId, agent]) => {
    let slow = wrapped.get(agent);
    if (!slow) {
      slow = {
        ...agent,
        execute: async (task, context) => {
          await sleep(pace, undefined, { signal: context.signal });
          return agent.execute(task, context);
        },
      };
      wrapped.set(agent, slow);
    }
    return [taskId, slow] as const;
  });
}

/** `symphony demo`: the document-analysis workflow of examples/demo.ts, on the store. */
export async function demoCommand(io: CliIO, options: DemoOptions): Promise<number> {
  const json = options.json ?? false;
  const pace = parsePace(options.pace);
  const session = await openSession(resolveDbSpec(options.db, io), {
    engine: DEMO_ENGINE_OPTIONS,
    inspect: options.inspect,
    env: io.env,
  });
  // Ctrl-C from here on stops the run gracefully (at once if it came before the run started).
  const interrupts = catchInterrupts(io);
  try {
    const { registry } = session;
    registerDemoAgents(registry.getAgentFactory());
    const agents = await ensureAgentConfigs(registry.getAgentFactory(), DEMO_AGENT_CONFIGS);
    const agentConfigIds = agents.map((agent) => agent.id);
    const metadata = toMetadata({ source: 'demo', agentConfigIds, strategy: 'CAPABILITY_MATCH' });
    const { workflow, pairs, documents } = await planDemo(registry, agentConfigIds, metadata);
    if (!json) {
      println(
        io.stdout,
        `Workflow ${workflow.id}: ${pairs.length} tasks over ${documents.length} documents, ${agents.length} agents, store ${session.storeName}`,
      );
    }
    const outcome = await runWatched(io, json, {
      session,
      workflowId: workflow.id,
      pairs: paced(pairs, pace),
      agents,
      maxConcurrent: DEMO_BATCH_CONCURRENCY,
      interrupts,
    });
    // After an interrupt the engine's store is closed: the sample comes from the run's final state.
    const sampleId = pairs[0]![0];
    const sample = outcome.state?.tasks.find((task) => task.id === sampleId);
    return await finishRun(io, json, session, workflow.id, agents, outcome, {
      print: () => {
        if (sample?.status === 'COMPLETED') {
          println(io.stdout, `Example output (${sample.name}): ${JSON.stringify(sample.outputData)}`);
        }
      },
    });
  } finally {
    interrupts.dispose();
    await session.stop();
  }
}
