// The fast-check arbitraries live in their own entry, `symphony-engine/testing/arbitraries`
// (./arbitraries.ts): nothing here may import fast-check, which is an optional peer dependency.
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
export { advance, createTestClock, flushEngine, nextTurn, TestClock } from './clock.js';
export {
  createTestRegistry,
  sequentialIds,
  stopNow,
  type TestRegistry,
  type TestRegistryOptions,
} from './test-registry.js';
