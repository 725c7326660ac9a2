export {
  createAiSdkAgent,
  defaultPrompt,
  type AiSdkAgentOptions,
  type AiSdkAgentOutput,
  type AiSdkCallSettings,
  type TokenUsage,
} from './ai-sdk-agent.js';
