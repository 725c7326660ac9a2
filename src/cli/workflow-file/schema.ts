import { z } from 'zod';
import { SIGNAL_NAME_PATTERN } from '../../graph/node-options.js';
import {
  DEFINITION_KEY_REASON,
  NAME_MAX,
  NAME_WORDS,
  TASK_KEY_PATTERN,
  TASK_KEY_WORDS,
} from '../../graph/names.js';
import { expectations } from './expected.js';
import { instantSchema } from './instant.js';
import { fileScheduleSchema } from './schedule.js';
import { workflowKeyFields } from './keys.js';

// The descriptions are for editors: they show in the JSON Schema generated from this schema
// (src/cli/workflow-file/json-schema.ts, `symphony schema`) and change no validation.

const record = () => z.record(z.string(), z.unknown());
const nonEmpty = () => z.string().min(1);

export const ROUTING_STRATEGY_NAMES = [
  'ROUND_ROBIN',
  'CAPABILITY_MATCH',
  'CONTENT_MATCH',
  'LOAD_BALANCED',
  'CUSTOM',
] as const;

const signalName = () =>
  z
    .string()
    .regex(SIGNAL_NAME_PATTERN)
    .describe('A signal name: 1-128 letters, digits, _ . : and -, not starting with . : or -.');
const signalNames = () => z.array(signalName()).min(1);

/** What a task is, in a file and in a child workflow's definition alike. */
const plainFields = {
  /** Copied into `inputData.query`. */
  query: z.string().optional().describe('Copied into inputData.query (what CONTENT_MATCH routing reads).'),
  description: z.string().optional().describe('Default: "".'),
  tags: z
    .array(z.string())
    .optional()
    .describe('The capabilities CAPABILITY_MATCH routing looks for. Default: [].'),
  priority: z.int().optional().describe('Higher runs first among queued work. Default: 0.'),
};

const inputDataField = record().optional().describe('What the agent gets as task.inputData. Default: {}.');

/** A child workflow's or a compensating task's name: what the engine takes, said in its words. */
const boundedName = () => nonEmpty().max(NAME_MAX).register(expectations, { expected: NAME_WORDS });

/** Where a task is in its graph and what kind of node it is, in a file and in a definition alike. */
const graphFields = {
  compensate: z
    .strictObject({
      name: boundedName().describe(
        `The compensating task's name (what its agent reads to know what to undo), at most ${NAME_MAX} characters.`,
      ),
      input: record()
        .optional()
        .describe('Its inputData, besides `compensated: { taskId, input, output }`. Default: {}.'),
    })
    .optional()
    .describe(
      'A compensating task: if the workflow fails after this task completed, a task of this name joins the workflow (id <task id>-compensate) with `compensated: { taskId, input, output }` of this task, run by the agent config of this task; the compensations of the completed tasks run one at a time, in reverse order of completion. Default: none.',
    ),
  dependsOn: z
    .array(z.string())
    .optional()
    .describe(
      'Keys of tasks of this file (or of the same definition) whose outputs this task needs: it starts once all of them have completed. Default: [] (no dependencies).',
    ),
  when: z
    .string()
    .min(1)
    .optional()
    .describe(
      'A CEL condition over the dependencies\' outputs (outputs.<key>) and this task\'s input (input), e.g. outputs.triage.label == "bug"; when false, the task ends SKIPPED (and so do its dependents). Only on a task with dependsOn. Default: none (always runs).',
    ),
  forEach: z
    .string()
    .min(1)
    .optional()
    .describe(
      "A fan-out: a CEL expression giving a list, over the dependencies' outputs (outputs.<key>) and this task's input (input), e.g. outputs.fetch.documents. Once the dependencies are done, one task per item runs (named \"<name> [i]\", inputData.item and inputData.index added to this task's inputData), and this task completes with their outputs in order: its dependents read that list. Only on a task with dependsOn. Default: none (not a fan-out).",
    ),
  sleep: z
    .union([
      z.strictObject({ ms: z.int().min(0).describe('How long to wait, in milliseconds.') }),
      z.strictObject({
        until: instantSchema().describe(
          'When to wait until: an ISO 8601 date-time with its offset, or epoch milliseconds.',
        ),
      }),
    ])
    .optional()
    .describe(
      'A durable sleep: once its dependencies are done (and its condition holds), the task waits this long (or until this time) and completes without an agent, output { sleptUntil }; the due time is stored, so a restart keeps it. Not with forEach, loop, waitFor or workflow. Default: none.',
    ),
  loop: z
    .strictObject({
      until: nonEmpty().describe(
        "A CEL condition over outputs.<key> (the dependencies' outputs, and this task's own key giving the latest iteration's output) and input, e.g. outputs.review.approved == true: the loop ends once it holds.",
      ),
      maxIterations: z
        .int()
        .min(1)
        .describe('Iterations at most; without until holding by then, the task fails LOOP_LIMIT_EXCEEDED.'),
    })
    .optional()
    .describe(
      'A loop: once its dependencies are done (and its condition holds), the agent runs as iterations (tasks of their own, named "<name> [iteration i]", inputData.iteration and inputData.previous, the output before, added to this task\'s inputData) until `until` holds; the task then completes with the last iteration\'s output. Needs a key. Not with forEach, sleep or waitFor; with workflow, each iteration runs the child workflow anew. Default: none.',
    ),
  waitFor: z
    .union([
      signalName(),
      signalNames(),
      z.strictObject({
        signals: z.union([signalName(), signalNames()]).describe('The signal name, or names, it waits for.'),
        timeoutMs: z
          .int()
          .min(0)
          .optional()
          .describe(
            'Fail WAIT_TIMED_OUT after this many milliseconds without a signal. Default: none (waits for ever).',
          ),
      }),
    ])
    .optional()
    .describe(
      'A wait for a signal (symphony signal <workflowId> <name> [json]): once its dependencies are done (and its condition holds), the task waits without an agent for the first signal sent to the workflow under one of these names (sent before or after it began to wait) and completes with { signal, payload, sentAt }. A name, a list of names, or { signals, timeoutMs }. Not with forEach, sleep, loop or workflow. Default: none.',
    ),
};

const keyOf = () =>
  z
    .string()
    .regex(TASK_KEY_PATTERN)
    .register(expectations, { expected: TASK_KEY_WORDS })
    .describe(
      "The task's name in the graph: other tasks list it in dependsOn, conditions read its output as outputs.<key>, and its dependents' agents as context.dependencies.<key>. 1-128 letters, digits, _ and -, not starting with a digit or -; unique in the file (or definition).",
    );

const WORKFLOW_DESCRIPTION =
  "A child workflow: once its dependencies are done (and its condition holds), its tasks run as a workflow of their own (ids <task id>-wf-<key>) and this task completes with { workflowId, status, outputs } (outputs.<key>: each child task's output). Either { definition: { name, tasks } }, written here, or the path of another workflow file (relative to this one) whose tasks are the definition. With loop: a loop over the group of tasks (each iteration runs them anew, inputData.parent.iteration and .previous). Not with forEach, sleep or waitFor. Default: none.";

/**
 * A task of a child workflow's definition: a key is required, the name defaults to it. The tasks of
 * a child workflow file are held to its `key` too (load.ts).
 */
export const definitionTaskSchema = z
  .strictObject({
    key: keyOf().register(expectations, { expected: TASK_KEY_WORDS, missing: DEFINITION_KEY_REASON }),
    name: nonEmpty().optional().describe("The task's name. Default: its key."),
    ...plainFields,
    inputData: inputDataField,
    ...graphFields,
    get workflow() {
      return childWorkflowSchema.optional().describe(WORKFLOW_DESCRIPTION);
    },
  })
  .describe("A task of a child workflow's definition.");

/** A child workflow written in place. */
export const definitionSchema = z
  .strictObject({
    name: boundedName().describe(`The child workflow's name, at most ${NAME_MAX} characters.`),
    description: z.string().optional().describe('Default: "".'),
    get tasks() {
      return z.array(definitionTaskSchema).min(1).describe('Its tasks, at least one.');
    },
  })
  .describe('A child workflow made when its task is reached.');

/** A task's `workflow`: the path of another workflow file, or a definition. */
export const childWorkflowSchema = z
  .union([
    nonEmpty().describe(
      'The path of another workflow file, relative to this one: its tasks are the definition.',
    ),
    z.strictObject({ definition: definitionSchema }),
  ])
  .meta({ id: 'childWorkflow' });

/** A task without its own policies (`taskSchema` adds them). */
const plainTaskSchema = z.strictObject({
  name: nonEmpty().describe("The task's name."),
  ...plainFields,
  metadata: record().optional().describe('Default: {}.'),
  inputData: inputDataField,
  key: keyOf()
    .optional()
    .describe(
      "The task's name in the graph: other tasks list it in dependsOn, conditions read its output as outputs.<key>, and its dependents' agents as context.dependencies.<key>. 1-128 letters, digits, _ and -, not starting with a digit or -; unique in the file. Default: none (required in a child workflow file).",
    ),
  ...graphFields,
  workflow: childWorkflowSchema.optional().describe(WORKFLOW_DESCRIPTION),
});

export const retrySchema = z
  .strictObject({
    maxAttempts: z.int().min(1).optional().describe('Attempts in all, the first included. Default: 3.'),
    initialDelayMs: z.number().min(0).optional().describe('Delay before the second attempt. Default: 100.'),
    backoffFactor: z
      .number()
      .min(1)
      .optional()
      .describe('Each further delay is the previous one times this. Default: 2.'),
    maxDelayMs: z.number().min(0).optional().describe('Cap of a delay. Default: 30000.'),
    jitter: z.number().min(0).max(1).optional().describe('Random share of each delay. Default: 0.2.'),
    nonRetryableErrors: z
      .array(z.string())
      .optional()
      .describe('Error names or codes that are never retried. Default: [].'),
  })
  .describe('The retry policy of every task.');

/** Token buckets (docs/policies.md "Rate limits"): an agent config's, or a fairness key's. */
const rateLimitsField = z.array(
  z.union([
    z.strictObject({
      requests: z.int().min(1).describe('Attempt starts per `per` ms.'),
      per: z.int().min(1).describe('The window, in ms.'),
    }),
    z.strictObject({
      tokens: z.int().min(1).describe('LLM tokens (reported usage) per `per` ms.'),
      per: z.int().min(1).describe('The window, in ms.'),
    }),
  ]),
);

export const agentConfigSchema = z
  .strictObject({
    name: nonEmpty().describe("The agent config's name."),
    type: nonEmpty().describe('An agent type the agents module registers.'),
    capabilities: z.array(z.string()).optional().describe('Default: [].'),
    description: z
      .string()
      .optional()
      .describe('What CONTENT_MATCH routing matches queries against. Default: "".'),
    maxConcurrency: z.int().min(1).optional().describe('Executions of this agent at once. Default: 1.'),
    metadata: record().optional().describe('Default: {}.'),
    circuitBreaker: z
      .strictObject({
        failureThreshold: z
          .int()
          .min(1)
          .optional()
          .describe('Failures within windowMs that open it. Default: 5.'),
        windowMs: z
          .int()
          .min(1)
          .optional()
          .describe('The sliding window failures are counted in, in ms. Default: 60000.'),
        cooldownMs: z
          .int()
          .min(0)
          .optional()
          .describe('How long it stays open before probes, in ms. Default: 30000.'),
        halfOpenProbes: z
          .int()
          .min(1)
          .optional()
          .describe('Attempts let through while half-open. Default: 1.'),
      })
      .optional()
      .describe(
        "The agent's circuit breaker (docs/policies.md): while open, routing skips the agent. Default: none.",
      ),
    rateLimits: rateLimitsField
      .optional()
      .describe(
        'Token buckets of this agent, across every engine on the store (docs/policies.md). Default: none.',
      ),
    quota: z
      .strictObject({
        tokens: z
          .number()
          .min(0)
          .optional()
          .describe('Tokens the tasks of this agent config may use in all. Default: no limit.'),
        costUsd: z
          .number()
          .min(0)
          .optional()
          .describe('US dollars they may cost in all, priced by `prices`. Default: no limit.'),
      })
      .optional()
      .describe(
        "The agent config's token and cost quota, stored with it: a total over every task it runs, in every workflow and on every engine of the store; a task about to start once the spend reached a limit ends BUDGET_EXCEEDED, not retried (docs/policies.md). Default: none.",
      ),
  })
  .describe('An agent config: tasks are routed among them.');

// ---- Delays, deadlines and timeouts (docs/policies.md): the file's tasks' time limits. ----

const msField = (what: string) => z.int().min(0).optional().describe(what);

/** The time limits of every task of a file (ExecuteOptions of the same names). */
export const timeLimitFields = {
  delayMs: msField(
    "A delayed start: each task's first attempt starts no earlier than this many ms after it is submitted (for a graph's task, after it is released). Not with runAt. Default: none.",
  ),
  runAt: instantSchema()
    .optional()
    .describe(
      "A delayed start: no task's first attempt starts before this time (an ISO 8601 date-time with its offset, or epoch milliseconds). Not with delayMs. Default: none.",
    ),
  scheduleToStartMs: msField(
    'Schedule-to-start: a task whose first attempt has not started this many ms after it was submitted ends FAILED with DEADLINE_EXCEEDED, not retried; retries are not bound by it. Default: none.',
  ),
  scheduleToCloseMs: msField(
    'Schedule-to-close: a task must end within this many ms of being submitted, across all its attempts and backoffs; past it, a running attempt is aborted and the task ends FAILED with SCHEDULE_TO_CLOSE_TIMEOUT, not retried. Default: none.',
  ),
  heartbeatTimeoutMs: msField(
    'Heartbeat timeout: an attempt whose agent calls context.heartbeat() less often than this is aborted and fails HEARTBEAT_TIMEOUT (retried under the retry policy). Default: none.',
  ),
};

// ---- End of the time limits. ----

/**
 * Fairness keys and budgets (docs/policies.md), at the top of a file: the run's tasks share one
 * fairness key, the workflow gets the budget, the engine the prices.
 */
const filePolicyFields = {
  concurrencyKey: z
    .string()
    .min(1)
    .max(255)
    .optional()
    .describe(
      'Fairness key of every task of the run that sets none of its own (a customer id, say; at most 255 characters): queued tasks of different keys take turns, the key with the fewest running first, on every worker of the store. Default: none.',
    ),
  keyConcurrency: z
    .int()
    .min(1)
    .optional()
    .describe(
      'With concurrencyKey: at most this many tasks of the key run at once, cluster-wide (counting tasks of other runs with the same key). Default: no limit.',
    ),
  keyRateLimits: rateLimitsField
    .optional()
    .describe(
      "With concurrencyKey: token buckets of the key, shared by its tasks on every agent and every engine of the store (counting tasks of other runs with the same key); a key waiting for a token lets other keys' tasks start. Default: none.",
    ),
  budget: z
    .strictObject({
      tokens: z
        .number()
        .min(0)
        .optional()
        .describe("Tokens the workflow's tasks may use in all. Default: no limit."),
      costUsd: z
        .number()
        .min(0)
        .optional()
        .describe("US dollars the workflow's tasks may cost in all, priced by `prices`. Default: no limit."),
      onExceeded: z
        .enum(['fail', 'pause'])
        .optional()
        .describe('Once a task is refused BUDGET_EXCEEDED: the workflow fails, or pauses. Default: fail.'),
    })
    .optional()
    .describe(
      "The workflow's token and cost budget (stored in its metadata.budget): a task about to start once the spend reached a limit ends BUDGET_EXCEEDED, not retried. Default: none.",
    ),
  prices: z
    .record(
      nonEmpty(),
      z.strictObject({
        inputPerMTok: z.number().min(0).describe('US dollars per million input tokens.'),
        outputPerMTok: z.number().min(0).describe('US dollars per million output tokens.'),
      }),
    )
    .optional()
    .describe(
      "Token prices by model id (the AI SDK agent's outputData.modelId), by agent config id, or '*' for anything else: what costUsd budgets and symphony show count. Default: none (tokens cost nothing).",
    ),
};

// ---- A task's own policies (docs/policies.md): over the file's, for that task alone. ----

const OVER = "This task's own, over the file's";

/** What a task of a file may set for itself (ExecuteOptions of the same names; see task-policies.ts). */
export const taskPolicyFields = {
  concurrencyKey: filePolicyFields.concurrencyKey.describe(
    `${OVER} concurrencyKey: its fairness key (the file's keyConcurrency and keyRateLimits are not this key's). Default: the file's.`,
  ),
  keyConcurrency: filePolicyFields.keyConcurrency.describe(
    `${OVER} keyConcurrency: at most this many tasks of its key (its own concurrencyKey, else the file's) run at once while it starts and runs. Default: the file's, unless the task has its own concurrencyKey.`,
  ),
  keyRateLimits: rateLimitsField
    .optional()
    .describe(
      `${OVER} keyRateLimits: token buckets of its key (its own concurrencyKey, else the file's). Default: the file's, unless the task has its own concurrencyKey.`,
    ),
  timeoutMs: z
    .number()
    .min(0)
    .optional()
    .describe(`${OVER} timeoutMs: how long an attempt may run; 0 means no limit. Default: the file's.`),
  retry: retrySchema
    .optional()
    .describe(
      `${OVER} retry: each field given replaces the file's (the others stay the file's). Default: the file's.`,
    ),
  delayMs: msField(
    `${OVER} delayMs: its first attempt starts no earlier than this many ms after it is submitted or released; replaces the file's runAt or delayMs. Not with runAt. Default: the file's.`,
  ),
  runAt: instantSchema()
    .optional()
    .describe(
      `${OVER} runAt: its first attempt starts no earlier than this time; replaces the file's runAt or delayMs. Not with delayMs. Default: the file's.`,
    ),
  scheduleToStartMs: msField(`${OVER} scheduleToStartMs. Default: the file's.`),
  scheduleToCloseMs: msField(`${OVER} scheduleToCloseMs. Default: the file's.`),
  heartbeatTimeoutMs: msField(`${OVER} heartbeatTimeoutMs. Default: the file's.`),
};

export const taskSchema = plainTaskSchema.extend(taskPolicyFields).describe('A task of the workflow.');

export const workflowFileSchema = z.strictObject({
  name: nonEmpty().describe("The workflow's name."),
  description: z.string().optional().describe('Default: "".'),
  tasks: z.array(taskSchema).min(1).describe('The tasks, at least one.'),
  routing: z
    .strictObject({ strategy: z.enum(ROUTING_STRATEGY_NAMES) })
    .optional()
    .describe('How tasks are routed among the agent configs. Default strategy: CAPABILITY_MATCH.'),
  concurrency: z.int().min(1).optional().describe('Executions at once. Default: 100.'),
  retry: retrySchema.optional(),
  timeoutMs: z
    .number()
    .min(0)
    .optional()
    .describe('How long an attempt may run; 0 means no limit. Default: 0.'),
  agingMs: z
    .number()
    .min(0)
    .optional()
    .describe(
      'Priority with aging: a waiting task gains one priority point per agingMs milliseconds waited (counted from when it was queued; a retry keeps its place); 0 means no aging. Default: 0.',
    ),
  // Fallback agents (docs/policies.md, "Circuit breakers and fallback agents").
  fallback: z
    .strictObject({
      maxAgents: z.int().min(1).describe('How many agent configs beyond the first a task may fall back to.'),
    })
    .optional()
    .describe(
      'Fallback agents: a task that fails for good is routed again, leaving out the agent configs that failed it, and runs there with a fresh attempt budget. Default: off.',
    ),
  agents: z
    .strictObject({
      /** A JS or TS module, relative to the workflow file. `--agents` overrides it. */
      module: nonEmpty()
        .optional()
        .describe('The agents module (JS or TS), relative to the workflow file; --agents overrides it.'),
      configs: z.array(agentConfigSchema).min(1).describe('The agent configs, at least one.'),
    })
    .describe('The agents module and the agent configs.'),
  ...timeLimitFields,
  ...filePolicyFields,
  // Cron schedules (symphony schedule add): the field lives in ./schedule.ts.
  schedule: fileScheduleSchema.optional(),
  // Debounce and singleton keys of the workflow: the fields live in ./keys.ts.
  ...workflowKeyFields,
});

/** A workflow file as written: see docs/cli.md#workflow-files. */
export type WorkflowFile = z.infer<typeof workflowFileSchema>;
export type WorkflowFileTask = z.infer<typeof taskSchema>;
/** A task of a child workflow's definition, as written. */
export type WorkflowFileDefinitionTask = z.infer<typeof definitionTaskSchema>;
/** A child workflow's definition, as written. */
export type WorkflowFileDefinition = z.infer<typeof definitionSchema>;
export type WorkflowFileAgentConfig = z.infer<typeof agentConfigSchema>;
