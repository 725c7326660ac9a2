export { ServiceRegistry, type ServiceRegistryOptions } from './service-registry.js';
export type { EngineOptions } from './engine/options.js';
export type { AgentResolver, RecoveryReport } from './engine/recovery.js';
export type { WorkerHandle, WorkerOptions, WorkerStats } from './engine/worker.js';
export type { ClaimedTasks, ClaimRunnableOptions } from './repositories/claim-runnable.js';
export type { HeldLoad, HeldLoadOptions } from './repositories/held-load.js';
export type { EngineStatus } from './engine/control-poller.js';
export type { EngineClock } from './engine/clock.js';
export { systemClock } from './engine/clock.js';
export { consoleLogger, silentLogger, type LogFn, type Logger } from './engine/logger.js';
export { defaultRetryPolicy, retryDelay, type RetryPolicy } from './engine/retry-policy.js';
export {
  costOf,
  priceFor,
  spendOf,
  tokensOf,
  type Budget,
  type ModelPrice,
  type PriceTable,
  type Quota,
  type Spend,
} from './engine/budgets.js';
export {
  getAgentSpend,
  getWorkflowSpend,
  setWorkflowBudget,
  type AgentSpend,
  type WorkflowSpend,
} from './services/workflow-budget.js';
export type { ExecuteOptions } from './engine/execution.js';
export type { RateLimit } from './domain/rate-limit.js';
export type { AttemptOutcome, PostHook, PreHook } from './engine/hooks.js';
export {
  SYMPHONY_EVENT_NAMES,
  type SymphonyEventName,
  type SymphonyEvents,
  type TaskEventFields,
} from './engine/engine-events.js';
export type { DroppedEvents, HubEvent } from './engine/event-hub.js';
export type {
  ReadEventsOptions,
  StoredEvent,
  StoredEventPage,
  WatchEventsOptions,
} from './engine/stored-events.js';
export type { EventRetentionOptions } from './engine/options.js';
export {
  instrumentOpenTelemetry,
  type InstrumentedEngine,
  type OpenTelemetryHandle,
  type OpenTelemetryOptions,
} from './monitoring/opentelemetry.js';
export { TaskManager } from './services/task-manager.js';
export type {
  DeadLetter,
  DeadLetterFilter,
  DeadLetterPage,
  ListDeadLettersOptions,
} from './services/dead-letters.js';
export type {
  RedriveOptions,
  RedriveReport,
  RedriveResult,
  RedriveSubmitOptions,
} from './services/redrive-dead-letters.js';
export { WorkflowTracker } from './services/workflow-tracker.js';
export type { AddTaskOptions, WorkflowDefinitionInput } from './graph/node-options.js';
export type {
  ExecuteWorkflowOptions,
  WorkflowAgentResolver,
  WorkflowResult,
} from './services/workflow-options.js';
export type { FallbackPolicy } from './services/fallback.js';
export type { TaskExecuteOptions, TaskOptionsMap } from './services/task-options.js';
export type { CodeCondition, CodeList } from './engine/workflows.js';
export type { GraphNode, GraphProgress, NodeState } from '../machines/graph.js';
export {
  EnhancedExecutor,
  type BatchExecuteOptions,
  type TaskAgentPair,
} from './services/enhanced-executor.js';
export type { EnqueueOptions, EnqueueWorkflowOptions, TaskAgentKeyPair } from './services/enqueue.js';
export { Scheduler, type CreateScheduleInput, type SchedulerOptions } from './schedules/scheduler.js';
export type {
  CatchUp,
  Overlap,
  Schedule,
  ScheduleFiring,
  ScheduleStore,
  ScheduleTemplate,
} from './schedules/schedule.js';
export { TaskRouter, type RouteOptions } from './services/task-router.js';
export { AgentFactory, type AgentBuilder } from './services/agent-factory.js';
export type {
  Agent,
  AgentConfig,
  AttemptError,
  CreateAgentConfigInput,
  CreateTaskInput,
  CreateWorkflowInput,
  ExecutionContext,
  ExecutionPlan,
  ExecutionResult,
  Task,
  TaskGraph,
  Workflow,
} from './domain/index.js';
export { TaskStatus, WorkflowStatus } from '../machines/status.js';
export { RoutingStrategy } from '../machines/router.machine.js';
export { deriveWorkflowStatus } from '../machines/workflow.machine.js';
export type { AgentLoad, CustomRoutingFunction, LoadSnapshot } from './routing/types.js';
export type {
  CompletionRecord,
  ControlCommand,
  Query,
  Repository,
  Store,
  StoreBatch,
  StoreOpenOptions,
  CommitResult,
  TaskFence,
  StoredCommand,
  CommandAck,
  EngineBeat,
  StoredBeat,
  Signal,
  StoredSignal,
  SignalTake,
  StoreKind,
  Where,
  EventRecord,
  EventQuery,
  EventPage,
  EventRetention,
  StoredEventRecord,
} from './repositories/index.js';
export { MemoryRepository, MemoryStore } from './repositories/index.js';
export { DEFAULT_SQLITE_PATH, createStore, openStore, type StoreSpec } from './repositories/index.js';
export {
  AgentConfigNotFoundError,
  AgentTypeNotFoundError,
  AttemptInterruptedError,
  ConditionError,
  ConditionFailedError,
  LoopLimitError,
  ChildWorkflowError,
  ScheduleNotFoundError,
  WaitTimeoutError,
  GraphError,
  TooManyInterruptionsError,
  DuplicateIdError,
  EngineStoppedError,
  LeaseLostError,
  CoordinationLostError,
  ErrorCode,
  ExecutionCancelledError,
  ExecutionTimeoutError,
  HookError,
  InvalidArgumentError,
  InvalidStateError,
  NoAgentAvailableError,
  NonRetryableError,
  BudgetExceededError,
  SingletonActiveError,
  PayloadTooLargeError,
  RepositoryNotFoundError,
  SerializationError,
  StoreError,
  SymphonyError,
  TaskNotFoundError,
  WorkflowNotFoundError,
} from './errors/index.js';
export { MAX_PAYLOAD_DEPTH } from './engine/payload.js';
