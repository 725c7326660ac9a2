import {
  chmodSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/repositories/sqlite/sqlite-store.js';
import { sampleTask } from '../../src/testing/samples.js';
import { runChild, startChild, stopChild } from './sqlite-child.js';

const dir = mkdtempSync(join(tmpdir(), 'symphony-broken-'));
chmodSync(dir, 0o755); // mkdtemp makes it 0700; the unprivileged child must reach the files inside
let files = 0;
afterAll(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

function newPath(): string {
  return join(dir, `case-${++files}.db`);
}

/** A closed, checkpointed store file with enough rows to span many pages. */
async function healthyFile(path = newPath()): Promise<string> {
  const store = new SqliteStore({ path });
  await store.open();
  const tasks = Array.from({ length: 400 }, (_, i) => sampleTask(`t${i}`, { description: 'd'.repeat(500) }));
  await store.commit({ tasks });
  await store.close();
  return path;
}

async function openError(
  path: string,
  busyTimeoutMs = 100,
): Promise<{ code?: string; message: string; retryable?: boolean }> {
  const store = new SqliteStore({ path, busyTimeoutMs });
  try {
    await store.open();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  await store.close();
  throw new Error(`expected opening ${path} to fail`);
}

describe('SqliteStore with a broken file', () => {
  it('reports a file that is not SQLite as STORE_CORRUPT with its path, and leaves it as it was', async () => {
    const path = newPath();
    const content = 'name,status\nreport,draft\n'.repeat(200);
    writeFileSync(path, content);
    const error = await openError(path);
    expect(error).toMatchObject({ name: 'StoreError', code: 'STORE_CORRUPT' });
    expect(error.message).toContain(path);
    expect(readFileSync(path, 'utf8')).toBe(content);
  });

  it('reports a truncated database as STORE_CORRUPT and does not recreate it', async () => {
    const path = await healthyFile();
    const half = Math.floor(statSync(path).size / 2);
    truncateSync(path, half);
    const before = readFileSync(path);
    const error = await openError(path);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(error.message).toContain(path);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('finds a damaged page that the schema read misses (PRAGMA quick_check) and reports STORE_CORRUPT', async () => {
    const path = await healthyFile();
    const pages = statSync(path).size / 4096;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096 * 4, 0xab), 0, 4096 * 4, 4096 * Math.floor(pages / 2));
    closeSync(fd);
    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT COUNT(*) AS n FROM sqlite_schema').get()).toMatchObject({
      n: expect.any(Number),
    });
    raw.close();
    const error = await openError(path);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT' });
    expect(error.message).toContain('quick_check');
  });

  it('reports a file locked by another process past the busy timeout as STORE_BUSY, and opens once the holder dies', async () => {
    const path = await healthyFile();
    const { child, line } = await startChild('hold-lock', path);
    expect(line).toEqual({ locked: true });
    try {
      const error = await openError(path, 50);
      expect(error).toMatchObject({ code: 'STORE_BUSY', retryable: true });
      expect(error.message).toContain(path);
    } finally {
      await stopChild(child);
    }
    const store = new SqliteStore({ path });
    await store.open();
    await expect(store.tasks.count()).resolves.toBe(400);
    await store.close();
  });

  it('fails a commit with STORE_BUSY while another connection holds the write lock, writing none of it', async () => {
    const path = await healthyFile();
    const store = new SqliteStore({ path, busyTimeoutMs: 50 });
    await store.open();
    const other = new Database(path);
    other.exec('BEGIN EXCLUSIVE');
    try {
      const commit = store.commit({
        tasks: [sampleTask('late')],
        completions: [{ taskId: 'late', executionId: 'e', attempt: 1, completedAt: 1 }],
      });
      await expect(commit).rejects.toMatchObject({ code: 'STORE_BUSY' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await expect(store.tasks.get('late')).resolves.toBeUndefined();
    await expect(store.completions()).resolves.toEqual([]);
    await store.commit({ tasks: [sampleTask('late')] });
    await expect(store.tasks.count()).resolves.toBe(401);
    await store.close();
  });

  // Tests run as root here, and root writes through chmod 0444. So the open runs in a child process
  // that file permissions bind: under setpriv without CAP_DAC_OVERRIDE when run as root (or as
  // nobody where setpriv is missing; see sqlite-child.ts), as the current user otherwise.
  it('reports a file it may not write as STORE_READ_ONLY at open (file 0444 in a writable folder)', async () => {
    const folder = join(dir, `ro-file-${++files}`);
    mkdirSync(folder);
    const path = await healthyFile(join(folder, 'store.db'));
    chmodSync(path, 0o444);
    chmodSync(folder, 0o777);
    const before = readFileSync(path);
    const result = await runChild('open', path, { unprivileged: true });
    expect(result).toMatchObject({ ok: false, code: 'STORE_READ_ONLY' });
    expect(result.message).toContain(path);
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('reads a file it may not write when opened read-only (file 0444 in a writable folder)', async () => {
    const folder = join(dir, `ro-read-${++files}`);
    mkdirSync(folder);
    const path = await healthyFile(join(folder, 'store.db'));
    chmodSync(path, 0o444);
    chmodSync(folder, 0o777);
    const before = readFileSync(path);
    const result = await runChild('read', path, { unprivileged: true });
    expect(result).toMatchObject({ ok: true, tasks: 400 });
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('reports a database in a folder it may not write as STORE_READ_ONLY (WAL needs its -wal and -shm files)', async () => {
    const folder = join(dir, `ro-folder-${++files}`);
    mkdirSync(folder);
    const path = await healthyFile(join(folder, 'store.db'));
    chmodSync(path, 0o444);
    chmodSync(folder, 0o555);
    try {
      const result = await runChild('open', path, { unprivileged: true });
      expect(result).toMatchObject({ ok: false, code: 'STORE_READ_ONLY' });
      expect(result.message).toContain(path);
    } finally {
      chmodSync(folder, 0o755);
    }
  });

  it('reports a path whose folder cannot be created as STORE_UNAVAILABLE', async () => {
    const file = newPath();
    writeFileSync(file, 'a plain file');
    const error = await openError(join(file, 'store.db'));
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(error.message).toContain(join(file, 'store.db'));
  });
});
