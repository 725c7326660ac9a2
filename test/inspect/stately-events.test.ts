import { describe, expect, it } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { captureEvent, safeJson, toStatelyEvent } from '../../src/inspect/stately-events.js';

describe('safeJson', () => {
  it('turns cycles, deep nesting, bigints, functions, errors, Maps and Sets into plain JSON', () => {
    const cyclic: Record<string, unknown> = { name: 'a' };
    cyclic.self = cyclic;
    const shared = { n: 1 };
    const value = {
      cyclic,
      twice: [shared, shared],
      big: 10n,
      run: function work() {},
      error: new TypeError('bad'),
      map: new Map([['k', 1]]),
      set: new Set([1, 2]),
      deep: { a: { b: { c: { d: 1 } } } },
      gone: undefined,
    };
    expect(JSON.parse(safeJson(value, 3))).toEqual({
      cyclic: { name: 'a', self: '[Circular]' },
      twice: [{ n: 1 }, { n: 1 }],
      big: '10',
      run: { type: 'work' },
      error: { name: 'TypeError', message: 'bad' },
      map: [['k', 1]],
      set: [1, 2],
      deep: { a: { b: '[Object]' } },
    });
  });

  it('never throws, even on a throwing toJSON', () => {
    const hostile = {
      toJSON() {
        throw new Error('no');
      },
    };
    expect(JSON.parse(safeJson(hostile, 10))).toEqual({ unserializable: 'no' });
    expect(safeJson(undefined, 10)).toBe('null');
  });
});

describe('toStatelyEvent', () => {
  it('gives the fields @statelyai/inspect sends: name, definition, parentId, snapshot, _version', () => {
    const machine = createMachine({
      id: 'light',
      initial: 'green',
      states: { green: { on: { GO: 'red' } }, red: {} },
    });
    const captured: ReturnType<typeof captureEvent>[] = [];
    const actor = createActor(machine, { inspect: (event) => captured.push(captureEvent(event, 1_000)) });
    actor.start();
    actor.send({ type: 'GO' });
    const events = captured
      .filter((event) => event !== undefined)
      .map((event) => toStatelyEvent(event!, (c) => JSON.stringify(c)));

    const [announced] = events;
    expect(announced).toMatchObject({
      type: '@xstate.actor',
      name: 'light',
      sessionId: actor.sessionId,
      rootId: actor.sessionId,
      parentId: undefined,
      createdAt: '1000',
      id: null,
      _version: expect.any(String),
    });
    expect(JSON.parse((announced as { definition: string }).definition)).toMatchObject({ id: 'light' });
    expect(
      events.find(
        (event) => event.type === '@xstate.event' && (event.event as { type: string }).type === 'GO',
      ),
    ).toMatchObject({
      sessionId: actor.sessionId,
      sourceId: undefined,
    });
    const last = events.at(-1)!;
    expect(last).toMatchObject({ type: '@xstate.snapshot', event: { type: 'GO' } });
    expect(JSON.parse(safeJson(last, 10)).snapshot).toMatchObject({ value: 'red', status: 'active' });
  });
});
