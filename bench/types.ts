/** What a task's agent does: return at once, or await a 1 ms timer (simulated I/O). */
export type AgentKind = 'noop' | 'timer';

/** One measured run of a throughput workload. */
export interface RunSpec {
  tasks: number;
  concurrency: number;
  agent: AgentKind;
}

/** A contender ready to run: `run` is the timed part, `dispose` cleans up (untimed). */
export interface Prepared {
  /** Runs every task and resolves with the number that completed. */
  run(): Promise<number>;
  dispose(): Promise<void>;
}

/** An engine (or a baseline) that runs the throughput workloads W1-W3. */
export interface Contender {
  readonly id: string;
  readonly label: string;
  /** Every state change of a task is written to a store before the task counts as done. */
  readonly durable: boolean;
  /** What the timed phase covers, shown in the report. */
  readonly timed: string;
  /** Untimed setup: open stores, create tasks. */
  prepare(spec: RunSpec): Promise<Prepared>;
}

/** A contender that cannot run here (a server is unreachable), with the reason. */
export interface Unavailable {
  readonly id: string;
  readonly label: string;
  readonly reason: string;
}

/** Measurements of one contender on one workload, one entry per round. */
export interface Sample {
  ms: number;
  tasks: number;
  completed: number;
  setupMs: number;
}

/** Extra figures a workload reports for a contender (memory, recovery), per round. */
export type Figures = Record<string, number>;
