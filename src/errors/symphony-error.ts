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

  /** True for any Symphony error, even one from another copy of the package. */
  static isInstance(error: unknown): error is SymphonyError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }
}
