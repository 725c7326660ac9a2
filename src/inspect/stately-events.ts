import type { InspectionEvent } from 'xstate';

/**
 * The protocol version stamped on every event (`_version`), as `@statelyai/inspect` 0.7 sends it;
 * the Stately inspector reads events in this shape.
 */
export const STATELY_PROTOCOL_VERSION = '0.7.2';

/** One event in the shape the Stately inspector reads from its WebSocket. */
export type StatelyEvent =
  | {
      type: '@xstate.actor';
      name: string;
      definition: string;
      parentId: string | undefined;
      snapshot: unknown;
      sessionId: string;
      rootId: string;
      createdAt: string;
      id: null;
      _version: string;
    }
  | {
      type: '@xstate.event';
      event: unknown;
      sourceId: string | undefined;
      sessionId: string;
      rootId: string;
      createdAt: string;
      id: null;
      _version: string;
    }
  | {
      type: '@xstate.snapshot';
      event: unknown;
      snapshot: unknown;
      sessionId: string;
      rootId: string;
      createdAt: string;
      id: null;
      _version: string;
    };

/** What an inspected actor ref offers beyond `ActorRefLike` (XState sets these on every actor). */
interface InspectedRef {
  id?: string;
  sessionId: string;
  logic?: { config?: unknown };
  _parent?: { sessionId: string };
  getSnapshot(): unknown;
}

/**
 * An inspection event reduced to what the inspector needs, captured when it happens: snapshots
 * are immutable, so keeping references is enough until the event is sent.
 */
export type CapturedEvent =
  | { type: '@xstate.actor'; ref: InspectedRef; snapshot: unknown; rootId: string; at: number }
  | {
      type: '@xstate.event';
      ref: InspectedRef;
      event: unknown;
      source: string | undefined;
      rootId: string;
      at: number;
    }
  | {
      type: '@xstate.snapshot';
      ref: InspectedRef;
      event: unknown;
      snapshot: unknown;
      rootId: string;
      at: number;
    };

/**
 * XState announces an actor from its constructor, before its first snapshot exists (the development
 * build throws when asked for it); the `@xstate.snapshot` event that follows at start carries it.
 */
function initialSnapshotOf(ref: InspectedRef): unknown {
  try {
    return ref.getSnapshot() ?? { status: 'active' };
  } catch {
    return { status: 'active' };
  }
}

/** Keeps the events the inspector shows (actors, events, snapshots); the rest give undefined. */
export function captureEvent(event: InspectionEvent, at: number): CapturedEvent | undefined {
  const ref = event.actorRef as unknown as InspectedRef;
  switch (event.type) {
    case '@xstate.actor':
      return { type: event.type, ref, snapshot: initialSnapshotOf(ref), rootId: event.rootId, at };
    case '@xstate.event':
      return {
        type: event.type,
        ref,
        event: event.event,
        source: event.sourceRef?.sessionId,
        rootId: event.rootId,
        at,
      };
    case '@xstate.snapshot':
      return {
        type: event.type,
        ref,
        event: event.event,
        snapshot: event.snapshot,
        rootId: event.rootId,
        at,
      };
    default:
      return undefined;
  }
}

/** Turns a captured event into the inspector's shape; `definitionOf` may cache per machine. */
export function toStatelyEvent(
  captured: CapturedEvent,
  definitionOf: (config: object) => string,
): StatelyEvent {
  const base = {
    sessionId: captured.ref.sessionId,
    rootId: captured.rootId,
    createdAt: String(captured.at),
    id: null,
    _version: STATELY_PROTOCOL_VERSION,
  };
  switch (captured.type) {
    case '@xstate.actor': {
      const config = captured.ref.logic?.config;
      const hasConfig = typeof config === 'object' && config !== null;
      let name = captured.ref.id ?? captured.ref.sessionId;
      if (name === captured.ref.sessionId && hasConfig)
        name = String((config as { id?: unknown }).id ?? name);
      return {
        ...base,
        type: captured.type,
        name,
        definition: hasConfig ? definitionOf(config) : JSON.stringify({ id: name }),
        parentId: captured.ref._parent?.sessionId,
        snapshot: captured.snapshot,
      };
    }
    case '@xstate.event':
      return { ...base, type: captured.type, event: captured.event, sourceId: captured.source };
    case '@xstate.snapshot':
      return { ...base, type: captured.type, event: captured.event, snapshot: captured.snapshot };
  }
}

/**
 * `JSON.stringify` that never throws: cycles become `"[Circular]"`, objects nested deeper than
 * `depthLimit` levels (the root is level 1) `"[Object]"` / `"[Array]"`, functions `{ type: name }`
 * (as machine definitions show implementations), bigints strings, errors `{ name, message }`, Maps
 * and Sets arrays.
 */
export function safeJson(value: unknown, depthLimit: number): string {
  const parents = new WeakMap<object, object | null>();
  const depths = new WeakMap<object, number>();
  function replacer(this: unknown, _key: string, raw: unknown): unknown {
    let item = raw;
    if (typeof item === 'function') return { type: (item as { name?: string }).name ?? 'anonymous' };
    if (typeof item === 'bigint') return item.toString();
    if (typeof item !== 'object' || item === null) return item;
    if (item instanceof Error) item = { name: item.name, message: item.message };
    else if (item instanceof Map) item = [...item.entries()];
    else if (item instanceof Set) item = [...item];
    const holder = this as object;
    const isRoot = !depths.has(holder);
    const depth = isRoot ? 0 : depths.get(holder)! + 1;
    if (!isRoot) {
      for (let at: object | null | undefined = holder; at; at = parents.get(at)) {
        if (at === item) return '[Circular]';
      }
    }
    if (depth >= depthLimit) return Array.isArray(item) ? '[Array]' : '[Object]';
    parents.set(item as object, isRoot ? null : holder);
    depths.set(item as object, depth);
    return item;
  }
  try {
    return JSON.stringify(value, replacer) ?? 'null';
  } catch (error) {
    return JSON.stringify({ unserializable: error instanceof Error ? error.message : String(error) });
  }
}
