/**
 * The "What payloads, names and ids may hold" example of docs/api.md: what is stored for
 * `undefined`, what is refused and with which code.
 *
 * Run: npx tsx examples/docs-payloads.ts
 */
import { MAX_PAYLOAD_DEPTH, ServiceRegistry, SymphonyError } from '../src/index.js';

export interface PayloadsOutcome {
  stored: unknown;
  output: unknown;
  refusals: Record<string, string>;
}

export async function main(log: (line: string) => void = console.log): Promise<PayloadsOutcome> {
  const registry = new ServiceRegistry({ store: ':memory:' });
  const taskManager = registry.getTaskManager();
  const executor = registry.getEnhancedExecutor();

  // undefined properties are dropped, undefined in arrays becomes null: what JSON.stringify does.
  const task = await taskManager.createTask({
    name: 'Echo',
    inputData: { query: 'hello', note: undefined, list: [1, undefined] },
  });
  log(`stored inputData: ${JSON.stringify(task.inputData)}`); // {"query":"hello","list":[1,null]}

  const result = await executor.executeTask(task.id, {
    id: 'echo',
    execute: async (t) => ({ echoed: t.inputData.query, extra: undefined }),
  });
  log(`output: ${JSON.stringify(result.output)}`); // {"echoed":"hello"}

  // Refused before anything is stored: each rejects with a typed error.
  let deep: Record<string, unknown> = {};
  for (let level = 0; level < MAX_PAYLOAD_DEPTH; level += 1) deep = { child: deep };
  const refusals: Record<string, string> = {};
  const attempts: Record<string, () => Promise<unknown>> = {
    'a Map': () => taskManager.createTask({ name: 'map', inputData: { m: new Map() } }),
    'a getter that throws': () =>
      taskManager.createTask({
        name: 'getter',
        inputData: {
          get secret(): string {
            throw new Error('no access');
          },
        },
      }),
    [`${MAX_PAYLOAD_DEPTH + 1} levels of nesting`]: () =>
      taskManager.createTask({ name: 'deep', inputData: deep }),
    'a lone surrogate in a name': () => taskManager.createTask({ name: 'half an emoji \uD83D' }),
  };
  for (const [what, attempt] of Object.entries(attempts)) {
    const error = await attempt().catch((e: unknown) => e);
    refusals[what] = SymphonyError.isInstance(error) ? error.code : 'accepted';
    log(`${what}: ${refusals[what]}`);
  }
  // a Map: INPUT_NOT_SERIALIZABLE, a getter that throws: INPUT_NOT_SERIALIZABLE,
  // 257 levels of nesting: INPUT_NOT_SERIALIZABLE, a lone surrogate in a name: INVALID_ARGUMENT

  await registry.stop();
  return { stored: task.inputData, output: result.output, refusals };
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
