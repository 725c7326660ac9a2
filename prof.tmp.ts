import { createTasks, symphonyAgent } from './bench/contenders/symphony.js';
import { ServiceRegistry, MemoryStore } from './src/index.js';
const storeEvents = process.argv[2] === 'on';
for (let r = 0; r < 6; r++) {
  const registry = new ServiceRegistry({ store: new MemoryStore(), maxConcurrency: 100, retry: { maxAttempts: 1 }, storeEvents });
  await registry.start();
  const ids = await createTasks(registry, 10000);
  const agent = symphonyAgent('noop');
  await registry.getEnhancedExecutor().batchExecute(ids.map((id) => [id, agent] as const), { maxConcurrent: 100 });
  await registry.stop();
}
