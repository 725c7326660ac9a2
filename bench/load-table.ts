/**
 * The load table's hot path, measured: one `started` and one `settled` trigger per execution, as
 * the runtime sends them. Compares the table as shipped (one Map entry replaced, a version bump)
 * with the same updates written as immer producers over a plain record, at 4 and 100 agents.
 * Then the cold path routing reads once per routing call, loadWithQueued (immer producers for the
 * entries with queued work), at 4 and 100 agents, all with work queued.
 * `node --import tsx bench/load-table.ts` (a few seconds). Figures are per started+settled pair
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

function immerTable() {
  return createStore({
    context: { loads: {}, version: 0 } as RecordContext,
    on: {
      started: (ctx, event: { agentId: string; count?: number }) =>
        produce(ctx, (draft) => {
          const prev = draft.loads[event.agentId];
          draft.loads[event.agentId] = {
            inFlight: (prev?.inFlight ?? 0) + (event.count ?? 1),
            queued: 0,
            completed: prev?.completed ?? 0,
            failed: prev?.failed ?? 0,
          };
          draft.version += 1;
        }),
      settled: (ctx, event: { agentId: string; ok: number; failed: number }) =>
        produce(ctx, (draft) => {
          const prev = draft.loads[event.agentId]!;
          prev.inFlight -= event.ok + event.failed;
          prev.completed += event.ok;
          prev.failed += event.failed;
          draft.version += 1;
        }),
    },
  });
}

type Table = {
  trigger: {
    started(event: { agentId: string; count?: number }): void;
    settled(event: { agentId: string; ok: number; failed: number }): void;
  };
};

function measure(name: string, table: Table, agents: number, pairs: number): number {
  const ids = Array.from({ length: agents }, (_, i) => `agent-${i}`);
  for (const agentId of ids) table.trigger.started({ agentId }); // every agent known, one in flight
  const run = (n: number) => {
    for (let i = 0; i < n; i += 1) {
      const agentId = ids[i % agents]!;
      table.trigger.started({ agentId });
      table.trigger.settled({ agentId, ok: 1, failed: 0 });
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
    table.trigger.started({ agentId: `agent-${i}` });
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
