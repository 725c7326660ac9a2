import { describe, it } from 'vitest';
import { checkEngineModel } from './engine-model-run.js';

// The engine against its reference model (issue 11) on the memory store; SQLite and PostgreSQL run
// in ./engine-model-stores.test.ts (integration project). What it checks: ./engine-model-run.ts.
describe('the engine against a reference model on the memory store (issue 11)', () => {
  it(
    'keeps statuses, attempts and completions as the model says, across steering, time and crashes',
    () => checkEngineModel('memory', 500),
    120_000,
  );
});
