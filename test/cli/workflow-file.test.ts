import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseWorkflowText, validateWorkflowFile } from '../../src/cli/workflow-file/load.js';
import { refusalOf, ROOT } from './helpers.js';

const valid = {
  name: 'W',
  tasks: [{ name: 't', query: 'q', tags: ['a'], priority: 2, metadata: { k: 1 }, inputData: { x: 1 } }],
  routing: { strategy: 'LOAD_BALANCED' },
  concurrency: 2,
  retry: {
    maxAttempts: 2,
    initialDelayMs: 0,
    backoffFactor: 1,
    maxDelayMs: 10,
    jitter: 0,
    nonRetryableErrors: ['X'],
  },
  timeoutMs: 100,
  agents: { module: './a.ts', configs: [{ name: 'A', type: 'a', capabilities: ['a'], maxConcurrency: 1 }] },
};

const messageOf = refusalOf;

describe('workflow file validation', () => {
  it('accepts every documented field', () => {
    // ...and adds the graph fields a task left out (see 'workflow file graphs' below).
    expect(validateWorkflowFile(valid, 'w.yaml')).toEqual({
      ...valid,
      tasks: valid.tasks.map((task) => ({ ...task, key: undefined, dependsOn: [], when: undefined })),
    });
  });

  it('names the file, the field path and what was expected', () => {
    expect(messageOf({ ...valid, tasks: [] })).toBe(
      'w.yaml: invalid workflow file: tasks: expected at least 1 item, got 0 items',
    );
    expect(messageOf({ ...valid, retry: { jitter: 2 } })).toBe(
      'w.yaml: invalid workflow file: retry.jitter: expected a number <= 1, got 2',
    );
    expect(messageOf({ ...valid, timeoutMs: -1 })).toContain('timeoutMs: expected a number >= 0, got -1');
    expect(messageOf({ ...valid, tasks: [{ name: 't', tags: 'a' }] })).toContain(
      'tasks[0].tags: expected an array, got "a"',
    );
    expect(messageOf({ ...valid, tasks: [{ name: 't', tags: ['a', 3] }] })).toContain(
      'tasks[0].tags[1]: expected a string, got 3',
    );
    expect(messageOf({ ...valid, tasks: [{ name: 't', inputData: [1] }] })).toContain(
      'tasks[0].inputData: expected an object, got an array of 1',
    );
    expect(messageOf({ ...valid, agents: { configs: [{ name: 'A', type: '' }] } })).toContain(
      'agents.configs[0].type: expected a non-empty string, got ""',
    );
    expect(messageOf({ ...valid, agents: undefined })).toContain('agents: expected an object, got nothing');
    // The engine's bound on a compensating task's name, checked before anything is stored.
    expect(messageOf({ ...valid, tasks: [{ name: 't', compensate: { name: 'n'.repeat(257) } }] })).toContain(
      'tasks[0].compensate.name: expected a non-empty string of at most 256 characters, got "nnn',
    );
    expect(messageOf('just text')).toBe('w.yaml: invalid workflow file: expected an object, got "just text"');
    expect(messageOf({ ...valid, retries: 3 })).toContain(
      'retries: unknown field; expected one of name, description, tasks, routing, concurrency, retry, timeoutMs, agingMs, fallback, agents, delayMs, runAt, scheduleToStartMs, scheduleToCloseMs, heartbeatTimeoutMs, concurrencyKey, keyConcurrency, keyRateLimits, budget, prices, schedule',
    );
  });

  it('lists several problems one per line', () => {
    const message = messageOf({ ...valid, concurrency: 1.5, timeoutMs: 'soon' });
    expect(message.split('\n')).toEqual([
      'w.yaml: invalid workflow file:',
      '  concurrency: expected an integer, got 1.5',
      '  timeoutMs: expected a number, got "soon"',
    ]);
  });

  it('reads YAML (and JSON as YAML) for other extensions, JSON strictly for .json', () => {
    expect(parseWorkflowText('name: W\ntasks:\n  - name: t\n', 'w.yml')).toEqual({
      name: 'W',
      tasks: [{ name: 't' }],
    });
    expect(parseWorkflowText('{"name": "W"}', 'w.json')).toEqual({ name: 'W' });
    expect(() => parseWorkflowText('name: W\nname: V\n', 'w.yaml')).toThrow(/^w\.yaml:2:1: not valid YAML/);
    expect(() => parseWorkflowText('name: W', 'w.json')).toThrow(/^w\.json: not valid JSON/);
  });
});

// Workflow graphs in files (issue 12): key, dependsOn and when, checked with every problem at once.
describe('workflow file graphs', () => {
  const graphFile = join(ROOT, 'test/fixtures/graph-workflow.yaml');
  const graph = parseWorkflowText(readFileSync(graphFile, 'utf8'), graphFile) as typeof valid;
  const withTasks = (tasks: unknown[]) => ({ ...valid, tasks });

  it('gives every task key, dependsOn and when, and keeps the rest as written', () => {
    const loaded = validateWorkflowFile(graph, 'graph.yaml');
    expect(loaded.tasks.map(({ key, dependsOn, when }) => ({ key, dependsOn, when }))).toEqual([
      { key: 'triage', dependsOn: [], when: undefined },
      { key: 'fix', dependsOn: ['triage'], when: 'outputs.triage.label == "bug"' },
      { key: 'answer', dependsOn: ['triage'], when: 'outputs.triage.label == "question"' },
      { key: 'notify', dependsOn: ['fix'], when: undefined },
      { key: undefined, dependsOn: [], when: undefined },
    ]);
    for (const task of loaded.tasks) {
      expect(Object.keys(task)).toEqual(expect.arrayContaining(['key', 'dependsOn', 'when']));
    }
    expect(loaded.tasks[0]).toMatchObject({ name: 'Triage the report', inputData: { ms: 1 } });
    expect(loaded.agents).toEqual(graph.agents);
  });

  it('refuses a key that is not a name', () => {
    expect(messageOf(withTasks([{ name: 'a', key: '1st' }]))).toBe(
      'w.yaml: invalid workflow file: tasks[0].key: expected a key (1-128 letters, digits, _ and -, starting with a letter or _), got "1st"',
    );
    expect(messageOf(withTasks([{ name: 'a', dependsOn: 'b' }]))).toContain(
      'tasks[0].dependsOn: expected an array, got "b"',
    );
  });

  it('lists every graph problem at once, each with its path', () => {
    const message = messageOf(
      withTasks([
        { name: 'a', key: 'a' },
        { name: 'b', key: 'b', dependsOn: ['a', 'nope', 'b', 'a'] },
        { name: 'again', key: 'a' },
        { name: 'c', when: 'true' },
        { name: 'd', key: 'd', dependsOn: ['a'], when: 'outputs.a.label == ' },
        { name: 'e', key: 'e', dependsOn: ['a'], when: 'outputs.a.score + 1' },
      ]),
    );
    expect(message.split('\n')).toEqual([
      'w.yaml: invalid workflow file:',
      '  tasks[2].key: duplicate key "a" (also tasks[0].key)',
      '  tasks[1].dependsOn[1]: unknown key "nope"; expected the key of another task of the file',
      '  tasks[1].dependsOn[2]: "b" is the task\'s own key; a task cannot depend on itself',
      '  tasks[1].dependsOn[3]: "a" is listed twice',
      '  tasks[3].when: only allowed on a task with dependsOn',
      '  tasks[4].when: Condition "outputs.a.label == " does not parse: Unexpected token: EOF at character 20',
      '  tasks[5].when: Condition "outputs.a.score + 1" gives int, expected a bool',
    ]);
  });

  it('names a cycle by its keys, at the first task of it', () => {
    const message = messageOf(
      withTasks([
        { name: 'start', key: 'start' },
        { name: 'x', key: 'x', dependsOn: ['start', 'z'] },
        { name: 'y', key: 'y', dependsOn: ['x'] },
        { name: 'z', key: 'z', dependsOn: ['y'] },
      ]),
    );
    expect(message).toBe(
      'w.yaml: invalid workflow file: tasks[1].dependsOn: dependency cycle: "x" depends on "z", which depends on "y", which depends on "x"',
    );
  });
});

// Fan-outs in files: forEach, a CEL list over the dependencies' outputs, checked like `when`.
describe('workflow file fan-outs (forEach)', () => {
  const withTasks = (tasks: unknown[]) => ({ ...valid, tasks });

  it('gives every task forEach (undefined when not a fan-out) and keeps it as written', () => {
    const loaded = validateWorkflowFile(
      withTasks([
        { name: 'fetch', key: 'fetch' },
        { name: 'each', key: 'each', dependsOn: ['fetch'], forEach: 'outputs.fetch.documents' },
        {
          name: 'filtered',
          dependsOn: ['fetch'],
          when: 'size(outputs.fetch.documents) > 0',
          forEach: 'outputs.fetch.documents.filter(d, d != input.skip)',
        },
        { name: 'review', dependsOn: ['each'] },
      ]),
      'w.yaml',
    );
    expect(loaded.tasks.map((task) => task.forEach)).toEqual([
      undefined,
      'outputs.fetch.documents',
      'outputs.fetch.documents.filter(d, d != input.skip)',
      undefined,
    ]);
    expect(loaded.tasks[2]!.when).toBe('size(outputs.fetch.documents) > 0');
    for (const task of loaded.tasks) expect(Object.keys(task)).toContain('forEach');
  });

  it('lists every forEach problem at once, each with its path', () => {
    expect(
      messageOf(
        withTasks([
          { name: 'a', key: 'a' },
          { name: 'b', dependsOn: ['a'], forEach: '' },
        ]),
      ),
    ).toBe('w.yaml: invalid workflow file: tasks[1].forEach: expected a non-empty string, got ""');
    // The shape is checked first; once it is right, the graph's problems come all together.
    const graph = messageOf(
      withTasks([
        { name: 'fetch', key: 'fetch' },
        { name: 'no deps', forEach: 'outputs.fetch.documents' },
        { name: 'bad CEL', dependsOn: ['fetch'], forEach: 'outputs.fetch.documents[' },
        { name: 'not a list', dependsOn: ['fetch'], forEach: 'outputs.fetch.count + 1.0' },
        { name: 'unknown variable', dependsOn: ['fetch'], forEach: 'documents' },
        { name: 'both wrong', dependsOn: ['nope'], when: '1', forEach: '"x"' },
      ]),
    );
    expect(graph.split('\n')).toEqual([
      'w.yaml: invalid workflow file:',
      '  tasks[1].forEach: only allowed on a task with dependsOn',
      expect.stringMatching(
        /^ {2}tasks\[2\]\.forEach: Condition "outputs\.fetch\.documents\[" does not parse: /,
      ),
      '  tasks[3].forEach: Condition "outputs.fetch.count + 1.0" gives double, expected a list',
      expect.stringMatching(
        /^ {2}tasks\[4\]\.forEach: Condition "documents" does not type-check: .*unknown variable/i,
      ),
      '  tasks[5].dependsOn[0]: unknown key "nope"; expected the key of another task of the file',
      '  tasks[5].when: Condition "1" gives int, expected a bool',
      '  tasks[5].forEach: Condition "\\"x\\"" gives string, expected a list',
    ]);
  });

  it('refuses a forEach that is not a string', () => {
    expect(
      messageOf(
        withTasks([
          { name: 'a', key: 'a' },
          { name: 'b', dependsOn: ['a'], forEach: ['x'] },
        ]),
      ),
    ).toBe('w.yaml: invalid workflow file: tasks[1].forEach: expected a string, got an array of 1');
  });
});
