import { describe, expect, it } from 'vitest';
import { describeDbSpec, resolveDbSpec } from '../../src/cli/store.js';

const io = (env: Record<string, string | undefined> = {}) => ({ env, cwd: '/home/me/project' });

describe('the store a command uses', () => {
  it('is --db, else $SYMPHONY_DB, else .symphony/symphony.db under the current directory', () => {
    expect(resolveDbSpec(undefined, io())).toBe('/home/me/project/.symphony/symphony.db');
    expect(resolveDbSpec(undefined, io({ SYMPHONY_DB: 'env.db' }))).toBe('/home/me/project/env.db');
    expect(resolveDbSpec(undefined, io({ SYMPHONY_DB: '' }))).toBe('/home/me/project/.symphony/symphony.db');
    expect(resolveDbSpec('flag.db', io({ SYMPHONY_DB: 'env.db' }))).toBe('/home/me/project/flag.db');
  });

  it('keeps absolute paths, URLs and :memory: as they are', () => {
    expect(resolveDbSpec('/var/lib/s.db', io())).toBe('/var/lib/s.db');
    expect(resolveDbSpec(':memory:', io())).toBe(':memory:');
    expect(resolveDbSpec('memory', io())).toBe('memory');
    expect(resolveDbSpec('postgres://u@h/db?schema=s', io())).toBe('postgres://u@h/db?schema=s');
    expect(resolveDbSpec('file:runs.db', io())).toBe('file:runs.db');
  });

  it('rejects an empty --db', () => {
    expect(() => resolveDbSpec('', io())).toThrow(
      'Expected --db to name a file or a URL, got an empty string',
    );
  });

  it('never prints a password', () => {
    expect(describeDbSpec('postgres://app:s3cret@db.internal:5432/app')).toBe(
      'postgres://app:***@db.internal:5432/app',
    );
    expect(describeDbSpec('postgres://app@db/app')).toBe('postgres://app@db/app');
    expect(describeDbSpec('/tmp/x.db')).toBe('/tmp/x.db');
  });
});
