import { afterAll, expect, it } from 'vitest';
import {
  describePostgres,
  dropTestSchemas,
  nextSchema,
  PG_URL,
  withUser,
} from '../repositories/pg-helpers.js';
import { cli } from './helpers.js';

describePostgres('symphony on PostgreSQL (--db postgres://...)', () => {
  afterAll(() => dropTestSchemas());

  it('runs the demo into a PostgreSQL schema, then lists and shows it from other processes', async () => {
    const url = withUser(PG_URL, { schema: nextSchema() });
    const demo = await cli(['demo', '--db', url, '--json']);
    expect(demo.stderr).toBe('');
    expect(demo.code, demo.stdout).toBe(0);
    const { workflow } = JSON.parse(demo.stdout) as { workflow: { id: string; status: string } };
    expect(workflow.status).toBe('COMPLETED');

    const list = await cli(['list', '--json'], { env: { SYMPHONY_DB: url } });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ id: workflow.id, tasks: 30 })]);
    const show = await cli(['show', workflow.id, '--db', url, '--json']);
    const details = JSON.parse(show.stdout) as { tasks: Array<{ status: string }> };
    expect(details.tasks.filter((task) => task.status === 'COMPLETED')).toHaveLength(30);
  });

  it('exits 3 when the server cannot be reached', async () => {
    const { code, stderr } = await cli(['list', '--db', 'postgres://nobody:secret@127.0.0.1:1/none']);
    expect(code).toBe(3);
    expect(stderr).toMatch(/^symphony: .*PostgreSQL/);
    expect(stderr).not.toContain('secret');
  });
});
