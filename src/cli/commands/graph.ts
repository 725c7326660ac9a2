import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { toMermaid, type MermaidNode } from '../../graph/mermaid.js';
import { ExitCode } from '../exit-codes.js';
import { printJson, type CliIO } from '../io.js';
import { openSession, resolveDbSpec } from '../store.js';
import { childDefinition, loadWorkflowFile, type LoadedWorkflowTask } from '../workflow-file/load.js';
import type { CommonOptions } from './common.js';
import { resolveWorkflowId } from '../overview/workflows.js';
import { storedNodes } from '../overview/graph-nodes.js';

/** Whether `target` names a workflow file: a workflow file's extension, or a file that exists. */
function isWorkflowFile(target: string, cwd: string): boolean {
  if (/\.(json|ya?ml)$/i.test(target)) return true;
  const path = resolve(cwd, target);
  return existsSync(path) && statSync(path).isFile();
}

/** The graph of a workflow file: keys as ids (`#<index>` for a task without one), names as labels. */
async function fileGraph(io: CliIO, file: string): Promise<MermaidNode[]> {
  const spec = await loadWorkflowFile(resolve(io.cwd, file), file);
  return spec.tasks.map((task, index) => ({
    id: task.key ?? `#${index}`,
    label: task.name,
    dependsOn: task.dependsOn,
    when: task.when ?? null,
    forEach: task.forEach ?? null,
    loop: task.loop ?? null,
    waitFor: task.waitFor === undefined ? null : waitOf(task.waitFor),
    workflow: task.workflow === undefined ? null : { name: childDefinition(task.workflow).name, id: null },
  }));
}

/** A file's `waitFor` in one shape: its names and its timeout (null: none). */
function waitOf(waitFor: NonNullable<LoadedWorkflowTask['waitFor']>): NonNullable<MermaidNode['waitFor']> {
  if (typeof waitFor === 'string') return { signals: [waitFor], timeoutMs: null };
  if (Array.isArray(waitFor)) return { signals: waitFor, timeoutMs: null };
  const { signals, timeoutMs } = waitFor;
  return { signals: typeof signals === 'string' ? [signals] : signals, timeoutMs: timeoutMs ?? null };
}

/**
 * The graph of a stored workflow (or of a task's workflow): task ids as ids, with statuses; the
 * tasks a fan-out or a loop made are linked to it; a child-workflow node names its child's id.
 */
async function storedGraph(io: CliIO, id: string, options: CommonOptions): Promise<MermaidNode[]> {
  const session = await openSession(resolveDbSpec(options.db, io), {
    mustExist: true,
    readOnly: true,
    cwd: io.cwd,
    env: io.env,
  });
  try {
    const { workflowId } = await resolveWorkflowId(session, id, 'symphony graph draws workflows');
    return storedNodes(await session.registry.getWorkflowTracker().getWorkflowTasks(workflowId));
  } finally {
    await session.stop();
  }
}

/**
 * `symphony graph <file | workflowId>`: a workflow's graph as a Mermaid flowchart, from a workflow
 * file (as declared) or from the store (coloured by each task's status).
 */
export async function graphCommand(io: CliIO, target: string, options: CommonOptions): Promise<number> {
  const nodes = isWorkflowFile(target, io.cwd)
    ? await fileGraph(io, target)
    : await storedGraph(io, target, options);
  const mermaid = toMermaid(nodes);
  if (options.json) printJson(io.stdout, { mermaid });
  else io.stdout.write(mermaid);
  return ExitCode.OK;
}
