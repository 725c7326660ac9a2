export * from './task.js';
export * from './workflow.js';
export * from './agent-config.js';
export * from './agent.js';
export * from './execution-result.js';
