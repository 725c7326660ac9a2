import { describe, expect, it } from 'vitest';
import { escapeMermaidLabel, toMermaid } from '../../src/graph/mermaid.js';

// `symphony graph` draws a workflow graph as a Mermaid flowchart (issue 12).

describe('toMermaid', () => {
  it('draws a node per task and an edge from each dependency, top-down', () => {
    expect(
      toMermaid([
        { id: 'fetch', label: 'Fetch', dependsOn: [] },
        { id: 'sum', label: 'Summarise', dependsOn: ['fetch'] },
        { id: 'report', label: 'Report', dependsOn: ['fetch', 'sum'] },
      ]),
    ).toBe(
      [
        'flowchart TD',
        '  fetch["Fetch"]',
        '  sum["Summarise"]',
        '  report["Report"]',
        '  fetch --> sum',
        '  fetch --> report',
        '  sum --> report',
        '',
      ].join('\n'),
    );
  });

  it('labels the edges into a conditional task with its condition, escaped and clipped at 60', () => {
    const long = `outputs.triage.label == "bug" && size(outputs.triage.items) > 2 && input.limit > 3`;
    const text = toMermaid([
      { id: 'triage', label: 'Triage', dependsOn: [] },
      { id: 'fix', label: 'Fix', dependsOn: ['triage'], when: 'outputs.triage.label == "bug"' },
      { id: 'big', label: 'Big', dependsOn: ['triage'], when: long },
    ]);
    expect(text).toContain('  triage -->|"outputs.triage.label == #quot;bug#quot;"| fix');
    const edge = text.split('\n').find((line) => line.includes('| big'))!;
    const label = edge.slice(edge.indexOf('|"') + 2, edge.lastIndexOf('"|'));
    expect(
      label
        .replace(/#quot;/g, '"')
        .replace(/#gt;/g, '>')
        .replace(/#amp;/g, '&'),
    ).toBe(`${long.slice(0, 59)}…`);
  });

  it('escapes quotes, brackets, angle brackets, pipes, hashes and line breaks in labels', () => {
    expect(escapeMermaidLabel('say "hi" [x] <b> a|b #1 & `c`\r\nnext\tline')).toBe(
      'say #quot;hi#quot; #91;x#93; #lt;b#gt; a#124;b #35;1 #amp; #96;c#96;<br/>next line',
    );
    const text = toMermaid([{ id: 'a', label: 'end"]\nflowchart LR', dependsOn: [] }]);
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toContain('a["end#quot;#93;<br/>flowchart LR"]');
  });

  it('replaces ids that are not plain names or are Mermaid keywords, keeping them unique', () => {
    const text = toMermaid([
      { id: 'end', label: 'End', dependsOn: [] },
      { id: 'task-1 x', label: 'Spaced', dependsOn: ['end'] },
      { id: 'node_1', label: 'Taken', dependsOn: ['task-1 x'] },
      { id: '__proto__', label: 'Proto', dependsOn: [] },
    ]);
    expect(text.split('\n').slice(1, 7)).toEqual([
      '  node_0["End"]',
      '  node_1_["Spaced"]',
      '  node_1["Taken"]',
      '  node_3["Proto"]',
      '  node_0 --> node_1_',
      '  node_1_ --> node_1',
    ]);
  });

  it('colours nodes by status with a classDef per status present and class lines', () => {
    const text = toMermaid([
      { id: 'a', label: 'A', dependsOn: [], status: 'COMPLETED' },
      { id: 'b', label: 'B', dependsOn: ['a'], status: 'COMPLETED' },
      { id: 'c', label: 'C', dependsOn: ['a'], status: 'SKIPPED' },
      { id: 'd', label: 'D', dependsOn: ['b'], status: 'RUNNING' },
      { id: 'e', label: 'E', dependsOn: [], status: 'FAILED' },
      { id: 'f', label: 'F', dependsOn: [], status: 'CANCELLED' },
      { id: 'g', label: 'G', dependsOn: [], status: 'PAUSED' },
      { id: 'h', label: 'H', dependsOn: [], status: 'PENDING' },
      { id: 'i', label: 'I', dependsOn: [], status: null },
    ]);
    const classLines = text.split('\n').filter((line) => line.startsWith('  class '));
    expect(classLines).toEqual([
      '  class a,b completed',
      '  class c skipped',
      '  class d running',
      '  class e failed',
      '  class f cancelled',
      '  class g paused',
      '  class h pending',
    ]);
    expect(text).toMatch(/classDef completed fill:#d3f9d8/);
    expect(text).toMatch(/classDef skipped [^\n]*stroke-dasharray/);
    expect(text).toMatch(/classDef failed fill:#ffd7d5/);
    expect(text).not.toContain('class i');
  });

  it('draws no classes without statuses, and leaves out dependencies that are not nodes', () => {
    const text = toMermaid([{ id: 'a', label: 'A', dependsOn: ['gone'] }]);
    expect(text).toBe('flowchart TD\n  a["A"]\n');
  });

  it('draws a fan-out as a subroutine with its list, escaped and clipped at 60', () => {
    const long = `outputs.fetch.documents.filter(d, d.size > 2 && d.lang == "en" && !(d.id in input.skip))`;
    const text = toMermaid([
      { id: 'fetch', label: 'Fetch', dependsOn: [] },
      { id: 'each', label: 'Summarise', dependsOn: ['fetch'], forEach: 'outputs.fetch.documents' },
      { id: 'big', label: 'Big <one>', dependsOn: ['fetch'], when: 'true', forEach: long },
      { id: 'plain', label: 'Plain', dependsOn: ['each'], forEach: null },
    ]);
    expect(text.split('\n').slice(1)).toEqual([
      '  fetch["Fetch"]',
      '  each[["Summarise #91;forEach: outputs.fetch.documents#93;"]]',
      `  big[["Big #lt;one#gt; #91;forEach: ${escapeMermaidLabel(long.slice(0, 59))}…#93;"]]`,
      '  plain["Plain"]',
      '  fetch --> each',
      '  fetch -->|"true"| big',
      '  each --> plain',
      '',
    ]);
  });

  it("links a fan-out's tasks to it by a dotted edge instead of edges from their dependencies", () => {
    const text = toMermaid([
      { id: 'fetch', label: 'Fetch', dependsOn: [], status: 'COMPLETED' },
      {
        id: 'f-1',
        label: 'Each',
        dependsOn: ['fetch'],
        forEach: 'outputs.fetch.documents',
        status: 'RUNNING',
      },
      { id: 'f-1-0', label: 'Each [0]', dependsOn: ['fetch'], itemOf: 'f-1', status: 'COMPLETED' },
      { id: 'f-1-1', label: 'Each [1]', dependsOn: ['fetch'], itemOf: 'f-1', status: 'RUNNING' },
      // Its fan-out is not drawn: its own dependencies are.
      { id: 'orphan', label: 'Lost [0]', dependsOn: ['fetch'], itemOf: 'gone' },
    ]);
    expect(text.split('\n').slice(1, 11)).toEqual([
      '  fetch["Fetch"]',
      '  node_1[["Each #91;forEach: outputs.fetch.documents#93;"]]',
      '  node_2["Each #91;0#93;"]',
      '  node_3["Each #91;1#93;"]',
      '  orphan["Lost #91;0#93;"]',
      '  fetch --> node_1',
      '  node_1 -.-> node_2',
      '  node_1 -.-> node_3',
      '  fetch --> orphan',
      '  classDef completed fill:#d3f9d8,stroke:#2da44e,color:#0f5323',
    ]);
    expect(text).toContain('  class node_1,node_3 running\n');
  });
});
