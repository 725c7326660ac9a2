import type { RunSpec } from '../types.js';

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6' | 'W7';

export interface ThroughputWorkload {
  id: 'W1' | 'W2' | 'W3';
  title: string;
  spec: RunSpec;
  /** Contender ids, in the order of round 1 (later rounds rotate it). */
  entrants: readonly string[];
}

const sized = (base: number, scale: number, tasks: number | undefined) =>
  tasks ?? Math.max(1, Math.round(base * scale));

/** W1-W3: the same tasks, run by every contender that fits the workload. */
export function throughputWorkloads(scale: number, tasks?: number): ThroughputWorkload[] {
  return [
    {
      id: 'W1',
      title: 'no-op tasks',
      spec: { tasks: sized(100_000, scale, tasks), concurrency: 100, agent: 'noop' },
      entrants: ['floor', 'p-queue', 'symphony-memory', 'bullmq'],
    },
    {
      id: 'W2',
      title: 'tasks awaiting a 1 ms timer',
      spec: { tasks: sized(10_000, scale, tasks), concurrency: 100, agent: 'timer' },
      entrants: ['floor', 'p-queue', 'symphony-memory', 'bullmq'],
    },
    {
      id: 'W3',
      title: 'durable no-op tasks (every state change committed)',
      spec: { tasks: sized(10_000, scale, tasks), concurrency: 100, agent: 'noop' },
      entrants: [
        'floor',
        'p-queue',
        'symphony-memory',
        'symphony-sqlite',
        'symphony-postgres',
        'bullmq',
        'bullmq-aof',
        'pg-boss',
      ],
    },
  ];
}

/** W4, W5 and W6 sizes. */
export function memoryTasks(scale: number, tasks?: number): number {
  return sized(100_000, scale, tasks);
}

export function recoveryTasks(scale: number, tasks?: number): number {
  return sized(100_000, scale, tasks);
}

/** W6: nodes of the graph (and tasks of the flat batch it is compared with). */
export function graphTasks(scale: number, tasks?: number): number {
  return sized(10_000, scale, tasks);
}
