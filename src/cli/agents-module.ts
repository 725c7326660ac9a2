import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AgentBuilder, AgentFactory, CustomRoutingFunction, RoutingStrategy } from '../index.js';
import { CliUsageError } from './cli-error.js';

/** What an agents module may export; see docs/cli.md#agents-modules. */
export interface AgentsModuleExports {
  /** Registers agent types: `factory.registerAgentType(type, builder)`. May be the default export. */
  register?: (factory: AgentFactory) => void | Promise<void>;
  /** A map of agent type -> builder. May be the default export. */
  agents?: Record<string, AgentBuilder>;
  /** The function of the CUSTOM routing strategy. */
  route?: CustomRoutingFunction;
  default?: unknown;
}

export interface AgentsModule {
  /** The absolute path it was loaded from. */
  path: string;
  /** Registers its agent types with `factory`. */
  registerInto(factory: AgentFactory): Promise<void>;
  route: CustomRoutingFunction | undefined;
}

function isBuilderMap(value: unknown): value is Record<string, AgentBuilder> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((builder) => typeof builder === 'function')
  );
}

const TYPESCRIPT = /\.(?:ts|mts|cts|tsx)$/;
let typeScriptLoader: Promise<void> | undefined;

/**
 * Lets `import()` load TypeScript: registers tsx (an optional peer dependency) for ESM and CommonJS,
 * once per process. The CLI itself is compiled JavaScript and needs tsx only for `.ts` agents modules.
 */
function loadTypeScript(path: string, field: string): Promise<void> {
  typeScriptLoader ??= (async () => {
    try {
      const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
      esm.register();
      cjs.register();
    } catch (error) {
      typeScriptLoader = undefined;
      if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new CliUsageError(
        `${field}: the agents module ${path} is TypeScript; install tsx to load it (npm install --save-dev tsx), or point to its compiled JavaScript`,
        { cause: error },
      );
    }
  })();
  return typeScriptLoader;
}

/**
 * Imports an agents module (JS, or TS through tsx when it is installed). It exports
 * `register(factory)`, or a map of type -> builder as `agents` or as its default export.
 * `field` names where the path came from, for messages ("agents.module" or "--agents").
 */
export async function loadAgentsModule(path: string, baseDir: string, field: string): Promise<AgentsModule> {
  const absolute = resolve(baseDir, path);
  if (!existsSync(absolute)) {
    throw new CliUsageError(
      `${field}: expected a JS or TS module, got ${JSON.stringify(path)} (no such file: ${absolute})`,
    );
  }
  if (TYPESCRIPT.test(absolute)) await loadTypeScript(path, field);
  let loaded: AgentsModuleExports;
  try {
    loaded = (await import(pathToFileURL(absolute).href)) as AgentsModuleExports;
    // A CommonJS module's `module.exports` arrives as the default export.
    const inner = loaded.default as AgentsModuleExports | undefined;
    if (
      loaded.register === undefined &&
      loaded.agents === undefined &&
      typeof inner === 'object' &&
      inner !== null
    ) {
      if (typeof inner.register === 'function' || isBuilderMap(inner.agents)) loaded = inner;
    }
  } catch (error) {
    const message = (error as Error).message;
    // ESM syntax in a .js file of a CommonJS package (npm init's default "type").
    const hint = /Unexpected token 'export'|Cannot use import statement outside a module/.test(message)
      ? ' (it is an ES module in a CommonJS package: name it .mjs, or set "type": "module" in its package.json)'
      : '';
    throw new CliUsageError(`${field}: the agents module ${path} could not be loaded: ${message}${hint}`, {
      cause: error,
    });
  }
  const register =
    typeof loaded.register === 'function'
      ? loaded.register
      : typeof loaded.default === 'function'
        ? (loaded.default as (factory: AgentFactory) => void | Promise<void>)
        : undefined;
  const map = isBuilderMap(loaded.agents)
    ? loaded.agents
    : isBuilderMap(loaded.default)
      ? loaded.default
      : undefined;
  if (!register && !map) {
    throw new CliUsageError(
      `${field}: expected the agents module ${path} to export register(factory), or a map of agent type -> builder as \`agents\` or as its default export`,
    );
  }
  const route = typeof loaded.route === 'function' ? loaded.route : undefined;
  return {
    path: absolute,
    route,
    async registerInto(factory) {
      if (register) await register(factory);
      if (map) for (const [type, builder] of Object.entries(map)) factory.registerAgentType(type, builder);
    },
  };
}

/**
 * The agents module of a workflow file (`--agents`, relative to the current directory, else the
 * file's `agents.module`, relative to the file) and its routing strategy, checked: a module is
 * named, and CUSTOM routing has the module's `route`.
 */
export async function fileAgentsModule(
  file: string,
  path: string,
  spec: { agents: { module?: string | undefined }; routing?: { strategy: RoutingStrategy } | undefined },
  override: string | undefined,
  cwd: string,
): Promise<{ module: AgentsModule; modulePath: string; strategy: RoutingStrategy }> {
  const modulePath = override ?? spec.agents.module;
  if (modulePath === undefined) {
    throw new CliUsageError(
      `${file}: agents.module: expected the path of a JS or TS module that registers the agent types (or pass --agents <module>), got nothing`,
    );
  }
  const module = override
    ? await loadAgentsModule(override, cwd, '--agents')
    : await loadAgentsModule(modulePath, dirname(path), `${file}: agents.module`);
  const strategy: RoutingStrategy = spec.routing?.strategy ?? 'CAPABILITY_MATCH';
  if (strategy === 'CUSTOM' && !module.route) {
    throw new CliUsageError(
      `${file}: routing.strategy: CUSTOM needs the agents module to export route(task, candidates, load), and ${modulePath} does not`,
    );
  }
  return { module, modulePath, strategy };
}
