import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { cli, tempDir } from './helpers.js';

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('symphony --inspect', () => {
  it('streams the actors of a demo run to a Stately inspector WebSocket, events sent actor to actor', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as { port: number };
    const kinds = new Set<string>();
    const events = { all: 0, sourced: 0, unsourced: new Map<string, number>() };
    server.on('connection', (socket) =>
      socket.on('message', (data) => {
        const event = JSON.parse(String(data)) as {
          type?: string;
          sessionId?: string;
          id?: string;
          name?: string;
          sourceId?: string;
          event?: { type?: string };
        };
        if (event.type === '@xstate.actor') kinds.add(String(event.name ?? event.id ?? event.sessionId));
        if (event.type !== '@xstate.event') return;
        events.all += 1;
        if (event.sourceId !== undefined) events.sourced += 1;
        else {
          const type = String(event.event?.type);
          events.unsourced.set(type, (events.unsourced.get(type) ?? 0) + 1);
        }
      }),
    );
    try {
      const { db } = tempDir();
      const result = await cli(['demo', '--db', db, '--json', '--inspect', `ws://127.0.0.1:${port}`]);
      expect(result.code, result.stderr).toBe(0);
      const names = [...kinds].join(' ');
      for (const kind of ['engine', 'executor', 'router', 'workflow:', 'task:'])
        expect(names).toContain(kind);
      // Issue 11: the inspector's sequence view shows who sent what. Only the engine's own start
      // comes from outside the actor system; every other event is sent by an actor.
      expect(events.all).toBeGreaterThan(300);
      expect(events.sourced / events.all, JSON.stringify([...events.unsourced])).toBeGreaterThanOrEqual(0.9);
    } finally {
      server.close();
    }
  }, 60_000);

  it('finishes normally when nothing listens', async () => {
    const { db } = tempDir();
    const result = await cli([
      'demo',
      '--db',
      db,
      '--json',
      '--inspect',
      `ws://127.0.0.1:${await closedPort()}`,
    ]);
    expect(result.code, result.stderr).toBe(0);
  }, 60_000);
});
