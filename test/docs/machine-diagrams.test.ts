import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DIAGRAMS_DIR, renderMachineDiagrams } from '../../scripts/machine-diagrams.js';

// Issue #4: machine diagrams are generated from the machine definitions; this fails when stale.

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, DIAGRAMS_DIR);
const rendered = renderMachineDiagrams();

describe('docs/machines', () => {
  it.each([...rendered.keys()])('%s matches the machine definitions', (name) => {
    const path = join(DIR, name);
    const hint = `${DIAGRAMS_DIR}/${name} is stale or missing: run \`npm run diagrams\``;
    expect(existsSync(path), hint).toBe(true);
    expect(readFileSync(path, 'utf8'), hint).toBe(rendered.get(name));
  });

  it('holds no page of a machine that no longer exists', () => {
    const extra = readdirSync(DIR).filter((name) => name.endsWith('.md') && !rendered.has(name));
    expect(extra, `remove ${extra.join(', ')} or run \`npm run diagrams\``).toEqual([]);
  });

  it('draws one diagram per machine with its states, nested states, initial and final states', () => {
    for (const name of ['task', 'workflow', 'agent', 'executor', 'router', 'engine']) {
      expect(rendered.get(`${name}.md`)).toContain('```mermaid\nstateDiagram-v2\n');
    }
    const task = rendered.get('task.md')!;
    expect(task).toContain('  [*] --> PENDING\n');
    expect(task).toContain('  state PENDING {\n    [*] --> PENDING_ready\n');
    expect(task).toContain('PENDING_ready --> RUNNING_bounded : START [hasTimeout] / assign');
    expect(task).toContain('    PENDING_backoff --> PENDING_ready : after retryDelay\n');
    // PENDING.ready's entry and exit actions (the engine's queue), not the delayed raise/cancel of `after`.
    expect(task).toContain('| PENDING.ready | ready | unready |\n');
    expect(task).not.toContain('| raise |');
    expect(task).toContain('RUNNING --> PENDING_backoff : FAIL [canRetry] / assign');
    expect(task).toContain('  COMPLETED --> [*]\n');
    for (const ended of ['FAILED', 'CANCELLED']) {
      expect(task).not.toContain(`  ${ended} --> [*]\n`);
      expect(task).toContain(`  ${ended} --> PENDING : RETRY\n`);
    }
    expect(task).toContain('| RUNNING.bounded | after timeout | - | timedOut |');
    expect(rendered.get('workflow.md')).toContain('any_state --> FAILED : always [derivedIs(FAILED)]');
    expect(rendered.get('router.md')).toContain('any_state --> CUSTOM : SET_STRATEGY [eventIs(CUSTOM)]');
    expect(rendered.get('engine.md')).toContain('any_state --> stopped : done(executor)');
    expect(rendered.get('engine.md')).toContain('| (machine) | executor | executor | executor |');
  });
});
