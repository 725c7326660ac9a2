export type {
  AgentLoad,
  LoadSnapshot,
  RoutingInput,
  RoutingFunction,
  CustomRoutingFunction,
} from './types.js';
export { roundRobin } from './round-robin.js';
export { capabilityMatch, requiredCapabilities } from './capability-match.js';
export { contentMatch, createContentMatch, contentQuery, type ContentMatchOptions } from './content-match.js';
export { loadBalanced } from './load-balanced.js';
export { routeCustom, validateCustomAnswer } from './custom.js';
export {
  routingStrategies,
  pickAgent,
  noAgentAvailable,
  type BuiltInRoutingStrategy,
  type NoAgentReason,
} from './strategies.js';
export {
  createLoadTable,
  snapshotOf,
  loadWithQueued,
  readOnlyLoad,
  type LoadTable,
  type LoadTableContext,
} from './load-table.js';
export { planRoutes, type BatchRoutingInput, type BatchRoutingPlan } from './batch.js';
