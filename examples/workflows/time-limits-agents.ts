/**
 * The agents module of time-limits.yaml: one agent type, `pager`, which reads
 * `inputData.pages` pages and reports each one through `context.heartbeat`; an attempt after a
 * failed one starts from the page in `context.lastHeartbeat`.
 */
import type { AgentFactory } from '../../src/index.js';

/** Called by `symphony run` with the engine's agent factory. */
export function register(factory: AgentFactory): void {
  factory.registerAgentType('pager', () => ({
    execute: async (task, context) => {
      const pages = Number(task.inputData.pages ?? 1);
      const from = (context.lastHeartbeat as { page: number } | undefined)?.page ?? 0;
      for (let page = from + 1; page <= pages; page += 1) context.heartbeat({ page });
      return { read: pages - from };
    },
  }));
}
