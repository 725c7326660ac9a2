import type { EngineOptions } from '../index.js';
import { CliUsageError } from './cli-error.js';
import type { CliIO } from './io.js';

/** The environment variable that sets `controlPollMs` of the CLI's engine (milliseconds). */
export const CONTROL_POLL_ENV = 'SYMPHONY_CONTROL_POLL_MS';
/** The environment variable that sets `livenessMs` of the CLI's engine (milliseconds). */
export const LIVENESS_ENV = 'SYMPHONY_LIVENESS_MS';

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

/**
 * The engine options the environment sets: how often the engine beats and reads control commands
 * (`$SYMPHONY_CONTROL_POLL_MS`) and how long its beats count as a sign of life for other processes
 * (`$SYMPHONY_LIVENESS_MS`). Unset variables leave the engine's defaults.
 */
export function engineEnvOptions(env: CliIO['env']): Pick<EngineOptions, 'controlPollMs' | 'livenessMs'> {
  const controlPollMs = integerOf(env, CONTROL_POLL_ENV, 0);
  const livenessMs = integerOf(env, LIVENESS_ENV, 1);
  return {
    ...(controlPollMs === undefined ? {} : { controlPollMs }),
    ...(livenessMs === undefined ? {} : { livenessMs }),
  };
}
