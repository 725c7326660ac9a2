import { isIP } from 'node:net';
import { CliUsageError } from '../cli-error.js';
import { UiBadPortError, UiTokenRequiredError } from './errors.js';

/** The environment variable the dashboard's token may come from instead of `--token`. */
export const TOKEN_ENV = 'SYMPHONY_UI_TOKEN';

/** Shortest token accepted: a token is the only lock of a dashboard other machines reach. */
export const MIN_TOKEN_LENGTH = 16;

/** The dashboard's options as `symphony ui` takes them. */
export interface DashboardInput {
  /** @default '127.0.0.1' */
  host?: string | undefined;
  /** @default 7700 (0: any free port) */
  port?: string | number | undefined;
  /** @default $SYMPHONY_UI_TOKEN, else none (only on a loopback address) */
  token?: string | undefined;
  /** Milliseconds between reads of the store for live updates. @default 500 */
  pollMs?: string | number | undefined;
}

/** The options, checked and complete. */
export interface DashboardOptions {
  host: string;
  port: number;
  /** null: no token (loopback only). */
  token: string | null;
  pollMs: number;
  /** The address is a loopback one: only this machine reaches it. */
  loopback: boolean;
}

/** Whether `host` names this machine only: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

function integer(value: string | number | undefined, fallback: number): number | null {
  if (value === undefined) return fallback;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Checks and completes the options: a port from 0 to 65535, a poll of at least 100 ms, and a token
 * of at least 16 characters, required on any address but a loopback one.
 */
export function resolveDashboardOptions(
  input: DashboardInput,
  env: Readonly<Record<string, string | undefined>> = {},
): DashboardOptions {
  const host = input.host ?? '127.0.0.1';
  if (host === '') throw new CliUsageError('Expected --host to be an address, got an empty string');
  const port = integer(input.port, 7700);
  if (port === null || port < 0 || port > 65_535) throw new UiBadPortError(input.port);
  const pollMs = integer(input.pollMs, 500);
  if (pollMs === null || pollMs < 100) {
    throw new CliUsageError(
      `Expected --poll-ms to be an integer >= 100, got ${JSON.stringify(input.pollMs)}`,
    );
  }
  const fromEnv = env[TOKEN_ENV];
  const token = input.token ?? (fromEnv === undefined || fromEnv === '' ? null : fromEnv);
  const loopback = isLoopback(host);
  if (token === null && !loopback) {
    throw new UiTokenRequiredError(
      `Listening on ${host} lets other machines reach the dashboard: give it a token with --token or $${TOKEN_ENV} (at least ${MIN_TOKEN_LENGTH} characters), or listen on 127.0.0.1`,
    );
  }
  if (token !== null && token.length < MIN_TOKEN_LENGTH) {
    throw new UiTokenRequiredError(
      `Expected the token to be at least ${MIN_TOKEN_LENGTH} characters, got ${token.length}; \`openssl rand -hex 16\` makes one`,
    );
  }
  return { host, port, token, pollMs, loopback };
}
