import { openSymphony, createTasks, symphonyAgent } from './bench/contenders/symphony.js';
import { ServiceRegistry, MemoryStore } from './src/index.js';
import { SqliteStore } from './src/sqlite.js';
import { PostgresStore } from './src/postgres.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const kind = process.argv[2] as 'memory' | 'sqlite' | 'postgres';
const wall = process.env.WALL === '1';
const tasks = Number(process.argv[3] ?? 10000);
const rounds = Number(process.argv[4] ?? 6);
async function once(storeEvents: boolean): Promise<number> {
  const store = kind === 'memory' ? new MemoryStore() : kind === 'postgres' ? new PostgresStore({ connectionString: 'postgres://127.0.0.1:5432/test', schema: `ab_${Math.random().toString(36).slice(2)}` }) : new SqliteStore({ path: join(mkdtempSync(join(tmpdir(), 'ab-')), 'b.db'), synchronous: 'NORMAL' });
  const registry = new ServiceRegistry({ store, maxConcurrency: 100, retry: { maxAttempts: 1 }, storeEvents });
  await registry.start();
  const ids = await createTasks(registry, tasks);
  const agent = symphonyAgent('noop');
  (globalThis as any).gc?.();
  const c0 = process.cpuUsage(); const w0 = performance.now();
  await registry.getEnhancedExecutor().batchExecute(ids.map((id) => [id, agent] as const), { maxConcurrent: 100 });
  const c = process.cpuUsage(c0);
  const ms = wall ? performance.now() - w0 : (c.user + c.system) / 1000;
  if (kind === 'postgres') await (await import('pg')).default.Pool.prototype.constructor;
  await registry.stop();
  return ms;
}
const on: number[] = [], off: number[] = [];
await once(true); await once(false);
for (let r = 0; r < rounds; r++) {
  if (r % 2) { on.push(await once(true)); off.push(await once(false)); }
  else { off.push(await once(false)); on.push(await once(true)); }
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
console.log(kind, 'on', on.map(Math.round).join(' '), 'median', med(on).toFixed(0));
console.log(kind, 'off', off.map(Math.round).join(' '), 'median', med(off).toFixed(0));
console.log('ratio on/off', (med(on) / med(off)).toFixed(3));
