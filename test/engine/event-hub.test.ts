import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EventHub } from '../../src/engine/event-hub.js';
import type { Logger } from '../../src/engine/logger.js';

interface TestEvents {
  'task.started': { taskId: string };
  'task.completed': { taskId: string };
}

const NAMES = ['task.started', 'task.completed'] as const;

function hub(warnings: string[] = []): EventHub<TestEvents> {
  const logger: Logger = {
    error: () => {},
    warn: (_fields, message) => warnings.push(message),
    info: () => {},
    debug: () => {},
  };
  return new EventHub<TestEvents>(NAMES, logger);
}

describe('EventHub', () => {
  it('calls the listeners of a name, until they are taken off', () => {
    const events = hub();
    const seen: string[] = [];
    const stop = events.on('task.started', (event) => seen.push(`a:${event.taskId}`));
    const other = (event: { taskId: string }) => seen.push(`b:${event.taskId}`);
    events.on('task.started', other);
    events.on('task.completed', (event) => seen.push(`done:${event.taskId}`));
    events.publish('task.started', { taskId: 't1' });
    stop();
    events.off('task.started', other);
    events.publish('task.started', { taskId: 't2' });
    events.publish('task.completed', { taskId: 't2' });
    expect(seen).toEqual(['a:t1', 'b:t1', 'done:t2']);
  });

  it('says whether anyone listens, so a publisher can skip building the payload', () => {
    const events = hub();
    expect(events.wants('task.started')).toBe(false);
    const stop = events.on('task.started', () => {});
    expect(events.wants('task.started')).toBe(true);
    expect(events.wants('task.completed')).toBe(false);
    stop();
    expect(events.wants('task.started')).toBe(false);
    const feed = events.iterate({ names: ['task.completed'] });
    expect(events.wants('task.completed')).toBe(true);
    void feed.return!();
    expect(events.wants('task.completed')).toBe(false);
  });

  it('logs a listener that throws anything and still calls the others', () => {
    const warnings: string[] = [];
    const events = hub(warnings);
    const seen: string[] = [];
    events.on('task.started', () => {
      throw new Error('boom');
    });
    events.on('task.started', () => {
      throw null;
    });
    events.on('task.started', (event) => seen.push(event.taskId));
    expect(() => events.publish('task.started', { taskId: 't1' })).not.toThrow();
    expect(seen).toEqual(['t1']);
    expect(warnings).toHaveLength(2);
  });

  it('refuses unknown names and listeners that are not functions with INVALID_ARGUMENT', () => {
    const events = hub();
    expect(() => events.on('task.nope' as 'task.started', () => {})).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => events.on('task.started', 'x' as unknown as () => void)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => events.iterate({ bufferSize: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });

  it('iterates the events in order, those named only, and ends on abort', async () => {
    const events = hub();
    const controller = new AbortController();
    const feed = events.iterate({ names: ['task.completed'], signal: controller.signal });
    events.publish('task.started', { taskId: 'ignored' });
    events.publish('task.completed', { taskId: 't1' });
    expect((await feed.next()).value).toEqual({ type: 'task.completed', taskId: 't1' });
    const pending = feed.next();
    events.publish('task.completed', { taskId: 't2' });
    expect((await pending).value).toEqual({ type: 'task.completed', taskId: 't2' });
    const waiting = feed.next();
    controller.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(events.wants('task.completed')).toBe(false);
  });

  it('keeps at most bufferSize unread events and says how many it dropped (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 0, max: 60 }),
        async (size, count) => {
          const events = hub();
          const feed = events.iterate({ bufferSize: size });
          for (let i = 0; i < count; i += 1) events.publish('task.started', { taskId: String(i) });
          events.close();
          const read: Array<{ type: string; taskId?: string; count?: number }> = [];
          for await (const event of feed) read.push(event as never);
          const dropped = Math.max(0, count - size);
          const kept = read
            .filter((event) => event.type === 'task.started')
            .map((event) => Number(event.taskId));
          expect(kept).toEqual(Array.from({ length: Math.min(count, size) }, (_, i) => dropped + i));
          expect(read.filter((event) => event.type === 'events.dropped').map((event) => event.count)).toEqual(
            dropped > 0 ? [dropped] : [],
          );
        },
      ),
    );
  });

  it('a reader breaking out of its loop stops its feed', async () => {
    const events = hub();
    const feed = events.iterate();
    events.publish('task.started', { taskId: 't1' });
    events.publish('task.started', { taskId: 't2' });
    for await (const event of feed) {
      expect(event).toEqual({ type: 'task.started', taskId: 't1' });
      break;
    }
    expect(events.wants('task.started')).toBe(false);
  });
});
