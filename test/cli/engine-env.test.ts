import { afterEach, describe, expect, it, vi } from 'vitest';
import { cliLogger, engineEnvOptions, LOG_LEVEL_ENV } from '../../src/cli/engine-env.js';

describe('$SYMPHONY_LOG_LEVEL', () => {
  afterEach(() => vi.restoreAllMocks());

  it('logs warnings and errors on stderr by default, not info', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
    const logger = cliLogger({})!;
    logger.warn({ attempt: 2 }, 'commit failed, retrying');
    logger.info({}, 'reconnected');
    expect(lines).toEqual(['symphony: warn: commit failed, retrying {"attempt":2}']);
  });

  it('info shows reconnects; silent logs nothing and gives the engine no logger', () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void lines.push(line));
    cliLogger({ [LOG_LEVEL_ENV]: 'info' })!.info({}, 'reconnected');
    expect(lines).toEqual(['symphony: info: reconnected']);
    expect(cliLogger({ [LOG_LEVEL_ENV]: 'silent' })).toBeUndefined();
    expect(engineEnvOptions({ [LOG_LEVEL_ENV]: 'silent' })).not.toHaveProperty('logger');
    expect(engineEnvOptions({})).toHaveProperty('logger');
  });

  it('refuses an unknown level as a usage error', () => {
    expect(() => cliLogger({ [LOG_LEVEL_ENV]: 'loud' })).toThrow(
      expect.objectContaining({ code: 'CLI_USAGE', message: expect.stringContaining('"loud"') }),
    );
  });
});
