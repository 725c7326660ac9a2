import type { WorkflowDefinitionInput } from '../graph/node-options.js';
import { childDefinition, type LoadedWorkflowFile, type LoadedWorkflowTask } from './workflow-file/load.js';
import { epochMs } from './workflow-file/instant.js';

/** Tasks of a file as a definition takes them (each with its key): dependencies by key. */
export function definitionTasks(tasks: readonly LoadedWorkflowTask[]): WorkflowDefinitionInput['tasks'] {
  return tasks.map((task) => ({
    key: task.key!,
    name: task.name,
    ...(task.description === undefined ? {} : { description: task.description }),
    inputData: { ...task.inputData, ...(task.query === undefined ? {} : { query: task.query }) },
    ...(task.priority === undefined ? {} : { priority: task.priority }),
    ...(task.tags === undefined ? {} : { tags: task.tags }),
    dependsOn: task.dependsOn,
    ...(task.when === undefined ? {} : { when: task.when }),
    ...(task.forEach === undefined ? {} : { forEach: task.forEach }),
    ...(task.sleep === undefined ? {} : { sleep: sleepOf(task.sleep) }),
    ...(task.loop === undefined ? {} : { loop: task.loop }),
    ...(task.waitFor === undefined ? {} : { waitFor: task.waitFor }),
    ...(task.workflow === undefined ? {} : { workflow: { definition: definitionOf(task) } }),
    ...(task.compensate === undefined ? {} : { compensate: task.compensate }),
  }));
}

/** A task's child workflow as addTasksToWorkflow takes it: its tasks name their dependencies by key. */
export function definitionOf(entry: LoadedWorkflowTask): WorkflowDefinitionInput {
  const { name, description, tasks } = childDefinition(entry.workflow!);
  return { name, ...(description === undefined ? {} : { description }), tasks: definitionTasks(tasks) };
}

/** A file's sleep as addTasksToWorkflow takes it: an ISO date-time becomes epoch milliseconds. */
export function sleepOf(
  sleep: NonNullable<LoadedWorkflowFile['tasks'][number]['sleep']>,
): { ms: number } | { until: number } {
  if ('ms' in sleep) return { ms: sleep.ms };
  return { until: epochMs(sleep.until) };
}
