export {
  failingAgent,
  hangingAgent,
  manualAgent,
  recordingAgent,
  succeedingAgent,
  throwingAgent,
  type AgentImplementation,
  type FakeAgentOptions,
  type ManualAgent,
  type RecordedCall,
  type RecordingAgent,
  type ThrowingAgentOptions,
  type WaitingCall,
} from './fake-agents.js';
export { advance, createTestClock, flushEngine, nextTurn } from './clock.js';
export {
  jsonRecordArbitrary,
  taskEventArbitrary,
  taskInputArbitrary,
  workflowEventSequenceArbitrary,
  type TaskInputArbitraryOptions,
} from './arbitraries.js';
export {
  createTestRegistry,
  sequentialIds,
  type TestRegistry,
  type TestRegistryOptions,
} from './test-registry.js';
