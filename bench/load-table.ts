/**
 * The load table's hot path, measured: two `observed` triggers per execution (the agent actor's
 * counts after its RUN and after its SETTLED), as the runtime sends them. Compares the table as
 * shipped (one Map entry replaced, a version bump) with the same updates written as an immer
 * producer over a plain record, at 4 and 100 agents. Then the cold path routing reads once per
 * routing call, loadWithQueued (immer producers for the entries with queued work), at 4 and 100
 * agents, all with work queued.
 * `node --import tsx bench/load-table.ts` (a few seconds). Figures are per pair of observations
 * and per loadWithQueued call.
 */
import { createStore } from '@xstate/store';
import { produce } from 'immer';
import { createLoadTable, loadWithQueued } from '../src/routing/load-table.js';
import type { AgentLoad } from '../src/routing/types.js';

interface RecordContext {
  loads: Record<string, AgentLoad>;
  version: number;
}

type Observation = { agentId: string; inFlight: number; completed: number; failed: number };

function immerTable() {
  return createStore({
    context: { loads: {}, version: 0 } as RecordContext,
    on: {
      observed: (ctx, event: Observation) =>
        produce(ctx, (draft) => {
          const { agentId, inFlight, completed, failed } = event;
          draft.loads[agentId] = { inFlight, queued: 0, completed, failed };
          draft.version += 1;
        }),
    },
  });
}

type Table = { trigger: { observed(event: Observation): void } };

function measure(name: string, table: Table, agents: number, pairs: number): number {
  const ids = Array.from({ length: agents }, (_, i) => `agent-${i}`);
  const completed = new Map<string, number>();
  for (const agentId of ids) {
    completed.set(agentId, 0);
    table.trigger.observed({ agentId, inFlight: 1, completed: 0, failed: 0 }); // one in flight
  }
  const run = (n: number) => {
    for (let i = 0; i < n; i += 1) {
      const agentId = ids[i % agents]!;
      const done = completed.get(agentId)!;
      table.trigger.observed({ agentId, inFlight: 2, completed: done, failed: 0 });
      table.trigger.observed({ agentId, inFlight: 1, completed: done + 1, failed: 0 });
      completed.set(agentId, done + 1);
    }
  };
  run(Math.min(pairs, 20_000)); // warm-up
  const start = process.hrtime.bigint();
  run(pairs);
  const us = Number(process.hrtime.bigint() - start) / 1e3 / pairs;
  console.log(
    `${name.padEnd(34)} ${String(agents).padStart(3)} agents  ${us.toFixed(2).padStart(7)} us/pair`,
  );
  return us;
}

for (const agents of [4, 100]) {
  measure('Map entry + version (shipped)', createLoadTable(), agents, 200_000);
  measure('immer produce over a record', immerTable(), agents, agents > 10 ? 20_000 : 100_000);
}

for (const agents of [4, 100]) {
  const table = createLoadTable();
  const queued = new Map<string, number>();
  for (let i = 0; i < agents; i += 1) {
    table.trigger.observed({ agentId: `agent-${i}`, inFlight: 1, completed: 0, failed: 0 });
    queued.set(`agent-${i}`, 2);
  }
  const calls = 20_000;
  for (let i = 0; i < 2_000; i += 1) loadWithQueued(table, queued);
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i += 1) loadWithQueued(table, queued);
  const us = Number(process.hrtime.bigint() - start) / 1e3 / calls;
  console.log(
    `${'loadWithQueued (immer entries)'.padEnd(34)} ${String(agents).padStart(3)} agents  ${us.toFixed(2).padStart(7)} us/call`,
  );
}
