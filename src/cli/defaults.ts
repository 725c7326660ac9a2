/** The environment variable that names the store when `--db` is not given. */
export const DB_ENV = 'SYMPHONY_DB';

/** Where `--inspect` without a URL sends events: the Stately inspector's local default. */
export const DEFAULT_INSPECT_URL = 'ws://localhost:8080';
