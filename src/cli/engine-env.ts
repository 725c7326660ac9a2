import { consoleLogger, type Logger } from '../engine/logger.js';
import type { EngineOptions } from '../index.js';
import { CliUsageError } from './cli-error.js';
import type { CliIO } from './io.js';

/** The environment variable that sets `controlPollMs` of the CLI's engine (milliseconds). */
export const CONTROL_POLL_ENV = 'SYMPHONY_CONTROL_POLL_MS';
/** The environment variable that sets `livenessMs` of the CLI's engine (milliseconds). */
export const LIVENESS_ENV = 'SYMPHONY_LIVENESS_MS';
/** The environment variable that replaces STOP_GRACE_MS (milliseconds). */
export const STOP_GRACE_ENV = 'SYMPHONY_STOP_GRACE_MS';

/** The environment variable that sets what the CLI logs to stderr: error, warn (default), info, debug, silent. */
export const LOG_LEVEL_ENV = 'SYMPHONY_LOG_LEVEL';
const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

/**
 * The CLI's logger: store faults (lost connections, commit retries, recoveries) on stderr, from
 * `$SYMPHONY_LOG_LEVEL` up (default `warn`; `silent` logs nothing).
 */
export function cliLogger(env: CliIO['env']): Logger | undefined {
  const level = env[LOG_LEVEL_ENV] || 'warn';
  if (level === 'silent') return undefined;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CliUsageError(
      `$${LOG_LEVEL_ENV}: expected one of ${[...LOG_LEVELS, 'silent'].join(', ')}, got ${JSON.stringify(level)}`,
    );
  }
  return consoleLogger(level as (typeof LOG_LEVELS)[number]);
}

/** How long running attempts may go on after Ctrl-C before they are aborted (and kept for later). */
export const STOP_GRACE_MS = 5000;

function integerOf(env: CliIO['env'], name: string, min: number): number | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < min) {
    throw new CliUsageError(
      `$${name}: expected an integer >= ${min} (milliseconds), got ${JSON.stringify(value)}`,
    );
  }
  return ms;
}

/** The grace period of an interrupted run: `$SYMPHONY_STOP_GRACE_MS`, else STOP_GRACE_MS. */
export function stopGraceMs(env: CliIO['env']): number {
  return integerOf(env, STOP_GRACE_ENV, 0) ?? STOP_GRACE_MS;
}

/**
 * The engine options the environment sets: how often the engine beats and reads control commands
 * (`$SYMPHONY_CONTROL_POLL_MS`) and how long its beats count as a sign of life for other processes
 * (`$SYMPHONY_LIVENESS_MS`). Unset variables leave the engine's defaults. `$SYMPHONY_STOP_GRACE_MS`
 * is checked here too, so that a bad value is refused before the engine opens.
 */
export function engineEnvOptions(
  env: CliIO['env'],
): Pick<EngineOptions, 'controlPollMs' | 'livenessMs' | 'logger'> {
  const controlPollMs = integerOf(env, CONTROL_POLL_ENV, 0);
  const livenessMs = integerOf(env, LIVENESS_ENV, 1);
  stopGraceMs(env);
  const logger = cliLogger(env);
  return {
    ...(logger === undefined ? {} : { logger }),
    ...(controlPollMs === undefined ? {} : { controlPollMs }),
    ...(livenessMs === undefined ? {} : { livenessMs }),
  };
}
