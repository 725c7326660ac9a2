import { InvalidArgumentError } from '../errors/errors.js';

/** One log method: structured fields first, then the message (pino's argument order). */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

/**
 * Where the engine and the stores report what they survive (lost connections, commit retries,
 * reconnects). Pino-compatible: a pino logger (or a child of one) fits as it is.
 * @example
 * const registry = new ServiceRegistry({ store: 'postgres://app@db/app', logger: pino() });
 */
export interface Logger {
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

const LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/** Logs nothing: the default. */
export const silentLogger: Logger = { error: () => {}, warn: () => {}, info: () => {}, debug: () => {} };

/**
 * A minimal logger writing one line per entry to stderr (`console.error`), from `level` up:
 * `symphony: warn: <message> {"fields":...}`. For the CLI; libraries should pass their own.
 */
export function consoleLogger(level: (typeof LEVELS)[number] = 'warn'): Logger {
  const rank = LEVELS.indexOf(level);
  const line =
    (name: (typeof LEVELS)[number]): LogFn =>
    (fields, message) => {
      if (LEVELS.indexOf(name) > rank) return;
      let text = '';
      try {
        text = JSON.stringify(fields, (_key, value: unknown) =>
          value instanceof Error ? { name: value.name, message: value.message } : value,
        );
      } catch {
        text = '';
      }
      console.error(`symphony: ${name}: ${message}${text && text !== '{}' ? ` ${text}` : ''}`);
    };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}

/**
 * Checks a logger option and wraps it so that a logger that throws never breaks the engine (a
 * log call is a side channel; the work goes on). `undefined` gives the silent logger.
 */
export function resolveLogger(value: unknown, name = 'logger'): Logger {
  if (value === undefined) return silentLogger;
  if (
    typeof value !== 'object' ||
    value === null ||
    LEVELS.some((level) => typeof (value as Record<string, unknown>)[level] !== 'function')
  ) {
    throw new InvalidArgumentError(
      `Expected \`${name}\` to be an object with error, warn, info and debug methods (pino-compatible), got ${value === null ? 'null' : typeof value}`,
    );
  }
  if (value === silentLogger) return silentLogger;
  const logger = value as Logger;
  const safe =
    (level: (typeof LEVELS)[number]): LogFn =>
    (fields, message) => {
      try {
        logger[level](fields, message);
      } catch {
        // a broken logger loses the entry, never the work
      }
    };
  return { error: safe('error'), warn: safe('warn'), info: safe('info'), debug: safe('debug') };
}
