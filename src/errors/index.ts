export * from './codes.js';
export * from './symphony-error.js';
export * from './errors.js';
export { normalizeError } from './normalize.js';
