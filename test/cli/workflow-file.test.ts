import { describe, expect, it } from 'vitest';
import { CliUsageError } from '../../src/cli/cli-error.js';
import { parseWorkflowText, validateWorkflowFile } from '../../src/cli/workflow-file/load.js';

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

function messageOf(data: unknown): string {
  try {
    validateWorkflowFile(data, 'w.yaml');
  } catch (error) {
    expect(CliUsageError.isInstance(error)).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected the file to be rejected');
}

describe('workflow file validation', () => {
  it('accepts every documented field', () => {
    expect(validateWorkflowFile(valid, 'w.yaml')).toEqual(valid);
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
    expect(messageOf('just text')).toBe('w.yaml: invalid workflow file: expected an object, got "just text"');
    expect(messageOf({ ...valid, retries: 3 })).toContain(
      'retries: unknown field; expected one of name, description, tasks, routing, concurrency, retry, timeoutMs, agents',
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
