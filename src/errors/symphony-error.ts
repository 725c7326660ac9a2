const marker = Symbol.for('symphony.error');

export interface SymphonyErrorOptions {
  cause?: unknown;
  /** Whether running the same work again could succeed. */
  retryable?: boolean;
  details?: Record<string, unknown>;
}

/** Base of every error Symphony throws; `code` is stable across releases. */
export class SymphonyError extends Error {
  override readonly name: string = 'SymphonyError';
  readonly code: string;
  readonly retryable: boolean;
  readonly details: Record<string, unknown>;
  private readonly [marker] = true;

  constructor(code: string, message: string, options: SymphonyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details ?? {};
  }

  /**
   * True for any Symphony error, even one from another copy of the package; false, never a throw,
   * for anything else (a Proxy whose traps throw, too).
   */
  static isInstance(error: unknown): error is SymphonyError {
    if (typeof error !== 'object' || error === null) return false;
    try {
      return (error as Record<symbol, unknown>)[marker] === true;
    } catch {
      return false;
    }
  }
}
