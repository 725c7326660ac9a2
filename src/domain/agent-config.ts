export interface AgentConfig {
  id: string;
  name: string;
  /** The agent type registered with `agentFactory.registerAgentType`. */
  type: string;
  description: string;
  capabilities: string[];
  /** Executions this agent may run at once. */
  maxConcurrency: number;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export interface CreateAgentConfigInput {
  name: string;
  type: string;
  description?: string;
  capabilities?: string[];
  /** @default 1 */
  maxConcurrency?: number;
  metadata?: Record<string, unknown>;
}
