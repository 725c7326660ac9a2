import { resolve } from 'node:path';
import { ErrorCode, SymphonyError } from '../../index.js';
import type { Schedule, ScheduleTemplate } from '../../schedules/schedule.js';
import { ensureAgentConfigs } from '../agent-configs.js';
import { fileAgentsModule } from '../agents-module.js';
import { routingSubject } from '../child-agents.js';
import { CliUsageError } from '../cli-error.js';
import { definitionTasks } from '../definition.js';
import { ExitCode } from '../exit-codes.js';
import { formatDate, table } from '../format.js';
import { printJson, println, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import { loadWorkflowFile, type LoadedWorkflowFile } from '../workflow-file/load.js';
import { fairnessOptions } from '../workflow-file/policies.js';
import { fileTaskOptions } from '../workflow-file/task-policies.js';
import { timeLimitOptions } from '../workflow-file/time-limits.js';
import { withSession, type CommonOptions } from './common.js';
import { configInputs, noteTypes } from '../file-agents.js';

export interface ScheduleAddOptions extends CommonOptions {
  /** The schedule's id. @default a new id */
  id?: string;
  /** A cron expression that replaces the file's `schedule.cron`. */
  cron?: string;
  /** An agents module that replaces the file's `agents.module`, relative to the current directory. */
  agents?: string;
}

export type ScheduleAction = 'pause' | 'resume' | 'remove' | 'trigger';

/** Keys for the file's tasks that have none (`task-<index>`, made unique): a definition needs them. */
function keyedTasks(spec: LoadedWorkflowFile): LoadedWorkflowFile['tasks'] {
  const taken = new Set(spec.tasks.flatMap((task) => (task.key === undefined ? [] : [task.key])));
  return spec.tasks.map((task, index) => {
    if (task.key !== undefined) return task;
    let key = `task-${index}`;
    while (taken.has(key)) key = `_${key}`;
    taken.add(key);
    return { ...task, key };
  });
}

/** The file's policies a schedule's template does not carry (`schedule add` refuses them): when to start. */
const START_FIELDS = ['delayMs', 'runAt'] as const;

/** Whether a task of the file has graph parts (a workflow with them takes `maxConcurrent`, not time limits). */
const hasGraph = (spec: LoadedWorkflowFile) =>
  spec.tasks.some(
    (t) =>
      t.dependsOn.length > 0 ||
      [t.when, t.forEach, t.sleep, t.loop, t.waitFor].some((part) => part !== undefined),
  );

function describe(schedule: Schedule): string {
  const zone = schedule.timezone === null ? 'UTC' : schedule.timezone;
  const next = schedule.paused ? 'paused' : `next ${formatDate(schedule.nextRunAt)} UTC`;
  return `Schedule ${schedule.id}: ${schedule.cron} (${zone}), ${next}`;
}

/**
 * `symphony schedule add <file>`: registers the file's `schedule` (or `--cron`) in the store, with
 * the file's workflow as template: its agent configs stored, each task routed once, now, by the
 * file's strategy; workers (`symphony worker`) start a workflow at each occurrence.
 */
export async function scheduleAddCommand(
  io: CliIO,
  file: string,
  options: ScheduleAddOptions,
): Promise<number> {
  const path = resolve(io.cwd, file);
  const spec = await loadWorkflowFile(path, file);
  const cron = options.cron ?? spec.schedule?.cron;
  if (cron === undefined) {
    throw new CliUsageError(
      `${file}: schedule: expected a schedule { cron, ... } in the file, or --cron <expression>, got nothing`,
    );
  }
  const child = spec.tasks.findIndex((task) => task.workflow !== undefined);
  if (child !== -1) {
    throw new CliUsageError(
      `${file}: tasks[${child}].workflow: a scheduled workflow cannot run child workflows; symphony run runs this file`,
    );
  }
  // The template carries the file's and a task's own policies but a delayed start (refused, not
  // dropped: a schedule must not run its workflows under other policies than the file says).
  const [fileField] = START_FIELDS.filter((name) => spec[name] !== undefined);
  if (fileField !== undefined) {
    throw new CliUsageError(
      `${file}: ${fileField}: a schedule decides when its workflows start (at each occurrence); a template carries no delayMs or runAt. symphony run runs this file`,
    );
  }
  spec.tasks.forEach((task, index) => {
    const [field] = START_FIELDS.filter((name) => task[name] !== undefined);
    if (field === undefined) return;
    throw new CliUsageError(
      `${file}: tasks[${index}].${field}: a schedule decides when its workflows start (at each occurrence); a template carries no task's own delayMs or runAt. symphony run runs this file`,
    );
  });
  // As symphony run --submit: workers take a workflow with graph parts without time limits.
  const timed = [spec, ...spec.tasks].findIndex((part) => Object.keys(timeLimitOptions(part)).length > 0);
  if (hasGraph(spec) && timed !== -1) {
    const part = timed === 0 ? spec : spec.tasks[timed - 1]!;
    const where = timed === 0 ? '' : `tasks[${timed - 1}].`;
    throw new CliUsageError(
      `${file}: ${where}${Object.keys(timeLimitOptions(part))[0]}: workers take a workflow with graph parts without time limits (scheduleToStartMs, scheduleToCloseMs, heartbeatTimeoutMs), and a schedule hands its workflows to workers. symphony run runs this file`,
    );
  }
  const {
    module: agents,
    modulePath,
    strategy,
  } = await fileAgentsModule(file, path, spec, options.agents, io.cwd);
  const dbSpec = resolveDbSpec(options.db, io);
  if (dbSpec === ':memory:' || dbSpec === 'memory') {
    throw new CliUsageError(
      `${dbSpec}: a schedule is kept in a store workers open too; this one ends with the command`,
    );
  }
  const session = await openSession(dbSpec, {
    cwd: io.cwd,
    env: io.env,
    engine: { routingStrategy: strategy, ...(agents.route ? { customRouting: agents.route } : {}) },
  });
  try {
    const { registry } = session;
    const factory = registry.getAgentFactory();
    const types = new Set<string>();
    await agents.registerInto(noteTypes(factory, types));
    spec.agents.configs.forEach((config, index) => {
      if (!factory.hasAgentType(config.type)) {
        throw new CliUsageError(
          `${file}: agents.configs[${index}].type: expected an agent type that ${modulePath} registers (${[...types].map((t) => JSON.stringify(t)).join(', ') || 'it registers none'}), got ${JSON.stringify(config.type)}`,
        );
      }
    });
    const configs = await ensureAgentConfigs(factory, configInputs(spec));
    const tasks = keyedTasks(spec);
    let configIds: string[];
    try {
      configIds = await registry.getTaskRouter().routeTasks(
        tasks.map((task, index) => routingSubject({ task, file: 0, where: `tasks[${index}]` })),
        { strategy, candidates: configs.map((config) => config.id) },
      );
    } catch (error) {
      if (!SymphonyError.isInstance(error) || error.code !== ErrorCode.NO_AGENT_AVAILABLE) throw error;
      const lines = (error.details.unroutable as Array<{ index: number }>).map(
        ({ index }) =>
          `tasks[${index}]: no agent can take ${JSON.stringify(tasks[index]!.name)} (strategy ${strategy}, tags ${JSON.stringify(tasks[index]!.tags ?? [])})`,
      );
      throw new CliUsageError(`${file}: ${lines.join('; ')}`);
    }
    // Each task's own policies, by key (every task has one here).
    const taskOptions = fileTaskOptions(tasks, []);
    const template: ScheduleTemplate = {
      workflow: {
        name: spec.name,
        ...(spec.description === undefined ? {} : { description: spec.description }),
        tasks: definitionTasks(tasks),
      },
      agentKey: Object.fromEntries(tasks.map((task, index) => [task.key!, configIds[index]!])),
      ...(spec.retry === undefined ? {} : { retry: spec.retry }),
      ...(spec.timeoutMs === undefined ? {} : { timeoutMs: spec.timeoutMs }),
      ...timeLimitOptions(spec),
      ...fairnessOptions(spec),
      // A workflow with graph parts or a fallback goes to workers as a whole: its concurrency holds.
      ...(spec.concurrency === undefined || !(hasGraph(spec) || spec.fallback !== undefined)
        ? {}
        : { maxConcurrent: spec.concurrency }),
      // Fallback among the file's agent configs, as symphony run falls back.
      ...(spec.fallback === undefined
        ? {}
        : { fallback: { ...spec.fallback, candidates: configs.map((config) => config.id) } }),
      ...(Object.keys(taskOptions).length === 0 ? {} : { taskOptions }),
    };
    const { timezone, catchUp, maxCatchUp, overlap } = spec.schedule ?? {};
    const schedule = await registry.getScheduler().create({
      ...(options.id === undefined ? {} : { id: options.id }),
      cron,
      template,
      ...(timezone === undefined ? {} : { timezone }),
      ...(catchUp === undefined ? {} : { catchUp }),
      ...(maxCatchUp === undefined ? {} : { maxCatchUp }),
      ...(overlap === undefined ? {} : { overlap }),
    });
    if (options.json) printJson(io.stdout, schedule);
    else {
      println(
        io.stdout,
        `${describe(schedule)}; workflow ${JSON.stringify(spec.name)}, ${tasks.length} tasks, store ${session.storeName}`,
      );
      println(
        io.stdout,
        `Workers (${session.hints.quoted('worker --agents <module>', 'symphony worker')}) start its workflows.`,
      );
    }
    return ExitCode.OK;
  } finally {
    await session.stop();
  }
}

/** `symphony schedule list`: every schedule of the store, by id. */
export async function scheduleListCommand(io: CliIO, options: CommonOptions): Promise<number> {
  return withSession(
    io,
    options,
    async (session) => {
      const schedules = await session.registry.getScheduler().list();
      if (options.json) printJson(io.stdout, schedules);
      else if (schedules.length === 0) println(io.stdout, `No schedules in ${session.storeName}`);
      else {
        const rows = [['ID', 'CRON', 'TIME ZONE', 'NEXT (UTC)', 'WORKFLOW', 'LAST WORKFLOW']];
        for (const s of schedules) {
          rows.push([
            s.id,
            s.cron,
            s.timezone ?? 'UTC',
            s.paused ? 'paused' : formatDate(s.nextRunAt),
            s.template.workflow.name,
            s.lastWorkflowId ?? '-',
          ]);
        }
        for (const line of table(rows)) println(io.stdout, line);
      }
      return ExitCode.OK;
    },
    true,
  );
}

/** `symphony schedule pause|resume|remove|trigger <id>`. */
export async function scheduleActionCommand(
  io: CliIO,
  action: ScheduleAction,
  id: string,
  options: CommonOptions,
): Promise<number> {
  return withSession(io, options, async (session) => {
    const scheduler = session.registry.getScheduler();
    if (action === 'remove') {
      await scheduler.delete(id);
      if (options.json) printJson(io.stdout, { id, removed: true });
      else println(io.stdout, `Schedule ${id} removed (the workflows it started stay)`);
    } else if (action === 'trigger') {
      const firing = await scheduler.trigger(id);
      if (options.json) printJson(io.stdout, firing);
      else println(io.stdout, `Schedule ${id} triggered: workflow ${firing.workflowId}, left to workers`);
    } else {
      const schedule = await (action === 'pause' ? scheduler.pause(id) : scheduler.resume(id));
      if (options.json) printJson(io.stdout, schedule);
      else println(io.stdout, describe(schedule));
    }
    return ExitCode.OK;
  });
}
