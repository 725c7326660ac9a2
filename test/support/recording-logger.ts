import type { Logger } from '../../src/engine/logger.js';

export interface LogEntry {
  level: 'error' | 'warn' | 'info' | 'debug';
  fields: Record<string, unknown>;
  message: string;
}

/** A logger that keeps every entry, for tests to look at (and wait on). */
export function recordingLogger(): {
  logger: Logger;
  entries: LogEntry[];
  count(level: LogEntry['level'], pattern: RegExp): number;
} {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (fields: Record<string, unknown>, message: string): void => {
      entries.push({ level, fields, message });
    };
  return {
    logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') },
    entries,
    count: (level, pattern) => entries.filter((e) => e.level === level && pattern.test(e.message)).length,
  };
}
