import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { MemoryStore } from '../../src/repositories/memory/memory-store.js';
import { PostgresStore } from '../../src/repositories/postgres/postgres-store.js';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { describeStoreContract } from '../../src/testing/store-contract.js';
import { PG_URL, describePostgres, dropTestSchemas, nextSchema } from './pg-helpers.js';

describeStoreContract('MemoryStore', async () => new MemoryStore());

const dir = mkdtempSync(join(tmpdir(), 'symphony-contract-'));
let files = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeStoreContract(
  'SqliteStore',
  async () => new SqliteStore({ path: join(dir, `store-${++files}.db`) }),
  {
    reopen: async (closed) => new SqliteStore({ path: (closed as SqliteStore).path }),
  },
);

describePostgres('PostgresStore', () => {
  afterAll(dropTestSchemas);
  describeStoreContract(
    'PostgresStore',
    async () => new PostgresStore({ connectionString: PG_URL, schema: nextSchema(), poolSize: 2 }),
    {
      reopen: async (closed) =>
        new PostgresStore({
          connectionString: PG_URL,
          schema: (closed as PostgresStore).schema,
          poolSize: 2,
        }),
    },
  );
});
