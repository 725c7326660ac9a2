import { SymphonyError } from '../../errors/symphony-error.js';

/** The stable codes of the dashboard's own errors (`symphony ui`); docs/cli.md lists them. */
export const UiErrorCode = {
  /** `--port` is not an integer from 0 to 65535. */
  UI_BAD_PORT: 'UI_BAD_PORT',
  /** The port is taken by another process (or not ours to take). */
  UI_PORT_IN_USE: 'UI_PORT_IN_USE',
  /** Listening on an address other than loopback without a token, or a token too short. */
  UI_TOKEN_REQUIRED: 'UI_TOKEN_REQUIRED',
} as const;

/** `--port` is not a port number (exit code 2). */
export class UiBadPortError extends SymphonyError {
  override readonly name = 'UiBadPortError';
  constructor(value: unknown) {
    super(
      UiErrorCode.UI_BAD_PORT,
      `Expected --port to be an integer from 0 to 65535, got ${JSON.stringify(value)}`,
      {
        details: { port: value },
      },
    );
  }
}

/** The address and port are in use, or may not be listened on (exit code 2). */
export class UiPortInUseError extends SymphonyError {
  override readonly name = 'UiPortInUseError';
  constructor(host: string, port: number, cause: unknown) {
    const reason = (cause as { code?: string } | null)?.code === 'EACCES' ? 'is not allowed' : 'is in use';
    super(
      UiErrorCode.UI_PORT_IN_USE,
      `Cannot listen on ${host}:${port}: the port ${reason}; pick another with --port (0: any free port)`,
      { cause, details: { host, port } },
    );
  }
}

/** A dashboard reachable from other machines must have a token (exit code 2). */
export class UiTokenRequiredError extends SymphonyError {
  override readonly name = 'UiTokenRequiredError';
  constructor(message: string) {
    super(UiErrorCode.UI_TOKEN_REQUIRED, message);
  }
}
