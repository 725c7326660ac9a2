import { afterAll, describe, it } from 'vitest';
import { describePostgres, dropTestSchemas } from '../repositories/pg-helpers.js';
import { checkEngineModel } from './engine-model-run.js';

// The engine against its reference model (issue 11) on the stores that answer later than memory:
// a fresh SQLite file and a fresh PostgreSQL schema per run. What it checks: ./engine-model-run.ts.
const TITLE = 'the engine against a reference model';
const LAW = 'keeps statuses, attempts and completions as the model says, across steering, time and crashes';

describe(`${TITLE} on the sqlite store (issue 11)`, () => {
  it(LAW, () => checkEngineModel('sqlite', 150), 120_000);
});

describePostgres(`${TITLE} on the postgres store (issue 11)`, () => {
  // Each run drops its schema; this drops those of runs cut short.
  afterAll(() => dropTestSchemas());
  // A fresh schema per run (six migrations): 40-60 s on a quiet machine, far more when both cores are busy.
  it(LAW, () => checkEngineModel('postgres', 150), 360_000);
});
