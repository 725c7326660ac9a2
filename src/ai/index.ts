export {
  createAiSdkAgent,
  defaultPrompt,
  type AiSdkAgentOptions,
  type AiSdkAgentOutput,
  type AiSdkCallSettings,
} from './ai-sdk-agent.js';
export { MAX_RESPONSE_BODY, ProviderError, type ProviderErrorDetails } from './provider-error.js';
export { addTokenUsage, taskTokenUsage, type TokenUsage } from './usage.js';
