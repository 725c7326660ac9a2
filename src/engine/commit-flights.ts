import type { Task } from '../domain/task.js';
import type { StoreError } from '../errors/errors.js';
import type { TaskFence } from '../repositories/store.js';
import type { Waiter } from './staging.js';

/** Batches with fewer task rows are not split (see `Store.commitLanes`). */
export const SPLIT_MIN_ROWS = 32;

/**
 * Rows of one part of a batch split in more than two (a large batch's first rows, the first
 * attempts to start among them, commit and run while the rest is still being written).
 */
export const PART_ROWS = 1_000;

/**
 * A batch taken for commit, until its waiters have been called. Waiters on everything staged
 * before them are called in the order the batches were taken, once every earlier batch has been;
 * those on some tasks' writes as soon as their batch has ended.
 */
export interface Flight {
  rows: Task[][];
  waiters: Waiter[];
  /** How many of `waiters` wait on some tasks' writes only. */
  own: number;
  ended: boolean;
  failure: unknown;
  /** The earlier parts of a split batch: the waiters of this (last) part hear their failures too. */
  parts: readonly Flight[];
  /** Taken as a part of a split batch, waiting for a free lane; its commit, once sent. */
  send: (() => Promise<void>) | null;
  /** An earlier batch went back to be tried again: these waiters wait for it (see `putBack`). */
  redirect: boolean;
  /** The engine gave up on the store while this batch was in flight: it is not tried again. */
  givenUp: StoreError | null;
  /** Tells this engine's listeners the batch's events, once it committed, in the order taken. */
  publish: (() => void) | null;
}

/** The fences of these state writes among `all`. */
export function ownFences(
  all: ReadonlyMap<string, TaskFence>,
  states: readonly Task[],
): ReadonlyMap<string, TaskFence> {
  if (all.size === 0) return all;
  const own = new Map<string, TaskFence>();
  for (const task of states) {
    const fence = all.get(task.id);
    if (fence) own.set(task.id, fence);
  }
  return own;
}

/** A waiter on everything that also hears the failures of a split batch's other parts. */
export function withParts(waiter: Waiter, parts: readonly Flight[]): Waiter {
  if (waiter.taskIds !== null) return waiter;
  return {
    fn: (error) => {
      let failure = error;
      for (const part of parts) failure ??= part.failure;
      waiter.fn(failure);
    },
    taskIds: null,
  };
}

/** The ids of the tasks written by the batches not ended yet. */
export function taskIdsInFlight(flights: readonly Flight[]): Set<string> {
  const ids = new Set<string>();
  for (const flight of flights) {
    if (flight.ended) continue;
    for (const rows of flight.rows) for (const row of rows) ids.add(row.id);
  }
  return ids;
}

/**
 * Calls the waiters of ended batches (`flights`, oldest first; those fully delivered are removed):
 * all of them, oldest batch first, while every batch taken before has had its own called; else only
 * those on their own tasks' writes. Those on everything of a batch that ended after an earlier one
 * went back wait for it again (`waitAgain`, see `Staging.putBack`), unless the engine gave up.
 */
export function deliverEnded(flights: Flight[], waitAgain: (waiters: Waiter[]) => void): void {
  for (const flight of flights) {
    if (!flight.ended || flight.own === 0) continue;
    flight.own = 0;
    const own = flight.waiters.filter((waiter) => waiter.taskIds !== null);
    flight.waiters = flight.waiters.filter((waiter) => waiter.taskIds === null);
    for (const waiter of own) waiter.fn(flight.failure);
  }
  while (flights.length > 0 && flights[0]!.ended) {
    const flight = flights.shift()!;
    flight.publish?.();
    if (flight.redirect && flight.failure === null) {
      // An earlier batch went back: these wait for it, unless the engine gave up on it.
      if (flight.givenUp === null) waitAgain(flight.waiters);
      else for (const waiter of flight.waiters) waiter.fn(flight.givenUp);
      continue;
    }
    let failure = flight.failure;
    for (const part of flight.parts) failure ??= part.failure;
    for (const waiter of flight.waiters) waiter.fn(failure);
  }
}

/**
 * The engine gave up on the store (`lost`): the batches still in flight are not tried again, and
 * those waiting for a lane are not sent but end with `lost`.
 */
export function abandonFlights(flights: readonly Flight[], lost: StoreError): void {
  for (const flight of flights) {
    if (flight.ended) continue;
    flight.givenUp = lost;
    if (flight.send === null) continue;
    flight.send = null;
    flight.ended = true;
    flight.failure = lost;
  }
}
