export * from './status.js';
export * from './task.machine.js';
export * from './workflow.machine.js';
export * from './graph.js';
export * from './agent.machine.js';
export * from './executor.machine.js';
export * from './router.machine.js';
export * from './engine.machine.js';
