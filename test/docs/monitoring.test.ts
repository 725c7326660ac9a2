import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { MeterProvider } from '@opentelemetry/api';
import { main as events } from '../../examples/docs-events.js';
import { main as storedEvents } from '../../examples/docs-stored-events.js';
import { SYMPHONY_EVENT_NAMES, instrumentOpenTelemetry } from '../../src/index.js';
import { createTestRegistry } from '../../src/testing/index.js';
import { markdownTableRows } from '../support/markdown-table.js';
import { sqliteMigrations } from '../../src/repositories/sqlite/migrations.js';
import { postgresMigrations } from '../../src/repositories/postgres/migrations.js';

const monitoring = () => readFile(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');

/** The instruments `instrumentOpenTelemetry` creates, as `name kind unit`, seen by a recording meter. */
async function createdInstruments(): Promise<string[]> {
  const created: string[] = [];
  const instrument = { add: () => {}, record: () => {}, addCallback: () => {}, removeCallback: () => {} };
  const make = (kind: string) => (name: string, options?: { unit?: string }) => {
    created.push(`${name} ${kind} ${options?.unit ?? ''}`);
    return instrument;
  };
  const meter = {
    createCounter: make('counter'),
    createHistogram: make('histogram'),
    createObservableGauge: make('observable gauge'),
    addBatchObservableCallback: () => {},
    removeBatchObservableCallback: () => {},
  };
  const kit = createTestRegistry();
  const handle = instrumentOpenTelemetry(kit.registry, {
    meterProvider: { getMeter: () => meter } as unknown as MeterProvider,
  });
  handle.stop();
  await kit.stop();
  return created.sort();
}

describe('docs/monitoring.md', () => {
  it('lists exactly the events the engine publishes', async () => {
    const text = await monitoring();
    const names = [
      ...markdownTableRows(text, 'Event'),
      ...markdownTableRows(text.split('### Workflow events')[1]!, 'Event'),
      ...markdownTableRows(text.split('### Agent and worker events')[1]!, 'Event'),
    ].map((row) => row[0]!.replace(/`/g, ''));
    expect([...names].sort()).toEqual([...SYMPHONY_EVENT_NAMES].sort());
  });

  it('runs the events example: a failed attempt, a retry, a completion, seen by a listener and an iterator', async () => {
    const lines: string[] = [];
    const seen = await events((line) => lines.push(line));
    expect(seen).toEqual(['task.started', 'task.attemptFailed', 'task.started', 'task.completed']);
    expect(lines).toEqual([
      'Summarise: attempt 1 failed (provider hiccup), retry: true',
      'Summarise: done in 2 attempts',
      'iterator saw: task.started, task.attemptFailed, task.started, task.completed',
    ]);
  });

  it('runs the stored events example: a reader pages through the store with a cursor, then follows it', async () => {
    const lines: string[] = [];
    const seen = await storedEvents((line) => lines.push(line));
    expect(lines).toEqual([
      'stored: task.created by worker-1, task.started by worker-1, task.attemptFailed by worker-1, task.started by worker-1, task.completed by worker-1',
      'followed: Translate completed after 1 attempt(s)',
    ]);
    expect(seen.at(-1)).toBe('task.completed by worker-1');
  });

  it('documents the stored events table as the migrations create it', async () => {
    const text = await monitoring();
    const columns = markdownTableRows(text.split('### The events table')[1]!, 'Column').map((row) =>
      row[0]!.replace(/`/g, ''),
    );
    expect(columns).toEqual(['seq', 'xid', 'engine_id', 'count', 'at', 'events']);
    const sqlite = sqliteMigrations.find((m) => m.version === 14)!.sql;
    const postgres = postgresMigrations.find((m) => m.version === 17)!.sql('s');
    for (const column of columns) {
      if (column !== 'xid') expect(sqlite, column).toMatch(new RegExp(`\\b${column}\\b`));
      expect(postgres, column).toMatch(new RegExp(`\\b${column}\\b`));
    }
    expect(sqlite).not.toMatch(/\bxid\b/);
  });

  it('lists exactly the OpenTelemetry metrics the instrumentation creates, with their kinds and units', async () => {
    const rows = markdownTableRows(await monitoring(), 'Metric');
    const documented = rows.map(
      ([name, kind, unit]) => `${name!.replace(/`/g, '')} ${kind} ${unit!.replace(/`/g, '')}`,
    );
    expect(documented.sort()).toEqual(await createdInstruments());
  });
});
