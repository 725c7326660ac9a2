import { STATUSES_V1, TASK_STATUSES_V5 } from '../sql/migration-statuses.js';

export interface PostgresMigration {
  version: number;
  name: string;
  /** The statements, given the quoted schema name. */
  sql(schema: string): string;
}

/**
 * The schema, one step per version, applied in order in one transaction at open while holding an
 * advisory lock, so concurrent openers migrate once. Never edit a released step, add one.
 * JSON columns are `json`, not `jsonb`: the text is kept verbatim (key order, `\u0000` escapes).
 * Times are epoch milliseconds as `double precision`, so any JS number round-trips; text columns use
 * the "C" collation so sorting is by code point, as in SQLite.
 */
export const postgresMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'tasks, workflows, agent configs and completion records',
    sql: (s) => `
CREATE TABLE ${s}.tasks (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL CONSTRAINT tasks_id_unique UNIQUE,
  name text COLLATE "C" NOT NULL,
  description text COLLATE "C" NOT NULL,
  input_data json NOT NULL,
  output_data json,
  tags json NOT NULL,
  priority double precision NOT NULL,
  status text COLLATE "C" NOT NULL CONSTRAINT tasks_status_check CHECK (status IN (${STATUSES_V1})),
  attempts integer NOT NULL,
  errors json NOT NULL,
  workflow_id text COLLATE "C",
  agent_id text COLLATE "C",
  idempotency_key text COLLATE "C",
  metadata json NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL,
  started_at double precision,
  finished_at double precision
);
CREATE INDEX tasks_workflow_id ON ${s}.tasks (workflow_id);
CREATE INDEX tasks_status ON ${s}.tasks (status);
CREATE UNIQUE INDEX tasks_idempotency_key_unique ON ${s}.tasks (idempotency_key);

CREATE TABLE ${s}.workflows (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL CONSTRAINT workflows_id_unique UNIQUE,
  name text COLLATE "C" NOT NULL,
  description text COLLATE "C" NOT NULL,
  status text COLLATE "C" NOT NULL CONSTRAINT workflows_status_check CHECK (status IN (${STATUSES_V1})),
  paused boolean NOT NULL,
  cancelled boolean NOT NULL,
  metadata json NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL
);

CREATE TABLE ${s}.agent_configs (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL CONSTRAINT agent_configs_id_unique UNIQUE,
  name text COLLATE "C" NOT NULL,
  type text COLLATE "C" NOT NULL,
  description text COLLATE "C" NOT NULL,
  capabilities json NOT NULL,
  max_concurrency integer NOT NULL,
  metadata json NOT NULL,
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL
);

CREATE TABLE ${s}.task_completions (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id text COLLATE "C" NOT NULL CONSTRAINT task_completions_task_id_unique UNIQUE,
  execution_id text COLLATE "C" NOT NULL,
  attempt integer NOT NULL,
  completed_at double precision NOT NULL
);
`,
  },
  {
    version: 2,
    name: 'execution plans, retry due times and leases on tasks',
    sql: (s) => `
ALTER TABLE ${s}.tasks ADD COLUMN run_after double precision;
ALTER TABLE ${s}.tasks ADD COLUMN execution json;
ALTER TABLE ${s}.tasks ADD COLUMN lease_owner text COLLATE "C";
ALTER TABLE ${s}.tasks ADD COLUMN lease_expires_at double precision;
CREATE INDEX tasks_run_after ON ${s}.tasks (run_after) WHERE run_after IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'workflow control commands',
    sql: (s) => `
CREATE TABLE ${s}.workflow_commands (
  seq bigserial PRIMARY KEY,
  id text COLLATE "C" NOT NULL CONSTRAINT workflow_commands_id_unique UNIQUE,
  workflow_id text COLLATE "C" NOT NULL,
  type text NOT NULL CONSTRAINT workflow_commands_type_check CHECK (type IN ('PAUSE', 'RESUME', 'CANCEL')),
  created_at double precision NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'engine beats, command acknowledgements, task commands, tasks by (status, id)',
    sql: (s) => `
DROP INDEX ${s}.tasks_status;
CREATE INDEX tasks_status_id ON ${s}.tasks (status, id);

ALTER TABLE ${s}.workflow_commands RENAME TO control_commands;
ALTER TABLE ${s}.control_commands RENAME CONSTRAINT workflow_commands_id_unique TO control_commands_id_unique;
ALTER TABLE ${s}.control_commands RENAME CONSTRAINT workflow_commands_type_check TO control_commands_type_check;
ALTER TABLE ${s}.control_commands ALTER COLUMN workflow_id DROP NOT NULL;
ALTER TABLE ${s}.control_commands ADD COLUMN task_id text COLLATE "C";
ALTER TABLE ${s}.control_commands ADD CONSTRAINT control_commands_target_check CHECK (workflow_id IS NOT NULL OR task_id IS NOT NULL);

CREATE TABLE ${s}.engine_beats (
  engine_id text COLLATE "C" PRIMARY KEY,
  beat_at double precision NOT NULL,
  expires_at double precision NOT NULL,
  stopped boolean NOT NULL
);

CREATE TABLE ${s}.command_acks (
  command_id text COLLATE "C" NOT NULL,
  engine_id text COLLATE "C" NOT NULL,
  applied boolean NOT NULL,
  error text,
  acked_at double precision NOT NULL,
  PRIMARY KEY (command_id, engine_id)
);
`,
  },
  {
    version: 5,
    name: 'SKIPPED task status and task graphs',
    // Rows written before get the JSON null as their graph, as a task without one is written today;
    // a constant default is kept in the catalog, so adding the column rewrites no row.
    sql: (s) => `
ALTER TABLE ${s}.tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE ${s}.tasks ADD CONSTRAINT tasks_status_check CHECK (status IN (${TASK_STATUSES_V5}));
ALTER TABLE ${s}.tasks ADD COLUMN graph json DEFAULT 'null';
ALTER TABLE ${s}.tasks ALTER COLUMN graph DROP DEFAULT;
`,
  },
  {
    version: 6,
    name: 'signals',
    // Payloads are JSON ('null' for none). A signal is taken once: taken_by and taken_at are set
    // together. Waits read a workflow's pending signals by seq (the partial index).
    sql: (s) => `
CREATE TABLE ${s}.signals (
  seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id text COLLATE "C" NOT NULL CONSTRAINT signals_id_unique UNIQUE,
  workflow_id text COLLATE "C" NOT NULL,
  name text COLLATE "C" NOT NULL,
  payload json NOT NULL,
  sent_at double precision NOT NULL,
  taken_by text COLLATE "C",
  taken_at double precision,
  CONSTRAINT signals_taken_check CHECK ((taken_by IS NULL) = (taken_at IS NULL))
);
CREATE INDEX signals_workflow_id_seq ON ${s}.signals (workflow_id, seq);
CREATE INDEX signals_pending ON ${s}.signals (workflow_id, seq) WHERE taken_by IS NULL;
`,
  },
  {
    version: 7,
    name: 'indexes of the claims of workers',
    // Claims read unheld runnable tasks in claim order (all, or of one agent key) and count the held
    // tasks of an agent key, each through a partial index that holds only such rows: a claim walks
    // the first rows of an index instead of reading the table. Rows an engine holds (in flight) are
    // in none of the first two, so the engine's own writes of them do not maintain those.
    sql: (s) => `
CREATE INDEX tasks_unheld ON ${s}.tasks (((execution->>'priority')::float8) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object';
CREATE INDEX tasks_unheld_agent ON ${s}.tasks ((execution->>'agentKey'), ((execution->>'priority')::float8) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object';
CREATE INDEX tasks_held ON ${s}.tasks (lease_owner)
  WHERE lease_owner IS NOT NULL AND status IN ('PENDING', 'RUNNING', 'PAUSED');
`,
  },
  {
    version: 8,
    name: 'workflows handed to workers as a whole',
    // One row per submitted workflow (src/repositories/workflow-runs.ts): its plan and the engine
    // that coordinates it. Claims read the rows not ended (a handful) through the partial index.
    sql: (s) => `
CREATE TABLE ${s}.workflow_runs (
  workflow_id text COLLATE "C" PRIMARY KEY,
  plan json NOT NULL,
  coordinator text COLLATE "C",
  submitted_at double precision NOT NULL,
  ended_at double precision
);
CREATE INDEX workflow_runs_open ON ${s}.workflow_runs (submitted_at, workflow_id) WHERE ended_at IS NULL;
`,
  },
  {
    version: 9,
    name: 'claims in rank order (priority with aging)',
    // The claim indexes of migration 7, keyed by the plan's rank (src/engine/queue-order.ts) instead
    // of its priority: with aging off the rank is the priority, and the claims walk them as before.
    // The expression is `planRankSql` of claims.ts, written out: a released step never changes.
    sql: (s) => `
DROP INDEX ${s}.tasks_unheld;
DROP INDEX ${s}.tasks_unheld_agent;
CREATE INDEX tasks_unheld ON ${s}.tasks ((COALESCE((execution->>'rank')::float8, (execution->>'priority')::float8)) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object';
CREATE INDEX tasks_unheld_agent ON ${s}.tasks ((execution->>'agentKey'), (COALESCE((execution->>'rank')::float8, (execution->>'priority')::float8)) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object';
`,
  },
  {
    version: 10,
    name: 'cron schedules',
    // One row per schedule (src/schedules/schedule.ts), and one per occurrence it fired: the
    // primary key of schedule_firings is what fires an occurrence once. Claims read the due rows
    // through the partial index.
    sql: (s) => `
CREATE TABLE ${s}.schedules (
  id text COLLATE "C" PRIMARY KEY,
  cron text NOT NULL,
  timezone text,
  template json NOT NULL,
  catch_up text NOT NULL CONSTRAINT schedules_catch_up_check CHECK (catch_up IN ('none', 'latest', 'all')),
  max_catch_up integer NOT NULL CONSTRAINT schedules_max_catch_up_check CHECK (max_catch_up >= 1),
  grace_ms double precision NOT NULL,
  overlap text NOT NULL CONSTRAINT schedules_overlap_check CHECK (overlap IN ('skip', 'allow')),
  paused boolean NOT NULL,
  next_run_at double precision,
  last_workflow_id text COLLATE "C",
  created_at double precision NOT NULL,
  updated_at double precision NOT NULL
);
CREATE INDEX schedules_due ON ${s}.schedules (next_run_at, id) WHERE NOT paused AND next_run_at IS NOT NULL;
CREATE TABLE ${s}.schedule_firings (
  schedule_id text COLLATE "C" NOT NULL,
  occurrence_at double precision NOT NULL,
  workflow_id text COLLATE "C" NOT NULL,
  fired_by text COLLATE "C" NOT NULL,
  fired_at double precision NOT NULL,
  PRIMARY KEY (schedule_id, occurrence_at)
);
`,
  },
  {
    version: 11,
    name: 'fairness keys in the claims',
    // Unheld runnable tasks with a fairness key (src/engine/key-queue.ts), by key in claim order:
    // empty while no task has a key, so a claim finds at once that none has.
    sql: (s) => `
CREATE INDEX tasks_unheld_keyed ON ${s}.tasks ((execution->>'concurrencyKey'), (COALESCE((execution->>'rank')::float8, (execution->>'priority')::float8)) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object' AND (execution->>'concurrencyKey') IS NOT NULL;
`,
  },
  {
    version: 12,
    name: 'circuit breakers',
    // An agent config's breaker options (NULL: none), and the breaker states engines share
    // (src/repositories/breakers.ts): one row per agent config, the newest transition.
    sql: (s) => `
ALTER TABLE ${s}.agent_configs ADD COLUMN circuit_breaker json;
CREATE TABLE ${s}.circuit_breakers (
  agent_id text COLLATE "C" PRIMARY KEY,
  state text NOT NULL CONSTRAINT circuit_breakers_state_check CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
  opened_at double precision,
  failures integer NOT NULL,
  changed_at double precision NOT NULL,
  changed_by text COLLATE "C" NOT NULL
);
`,
  },
  {
    version: 13,
    name: 'rate limits',
    // One row per token bucket (src/domain/rate-limit.ts, src/repositories/sql/rate-buckets.ts): its
    // balance at updated_at (ahead of now while a retry-after blocks it) and the tokens the last
    // operation granted. Agent configs keep their rate limits as JSON (NULL: none).
    sql: (s) => `
CREATE TABLE ${s}.rate_buckets (
  key text COLLATE "C" PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at double precision NOT NULL,
  granted double precision NOT NULL
);
ALTER TABLE ${s}.agent_configs ADD COLUMN rate_limits json;
`,
  },
  {
    version: 14,
    name: 'debounce and singleton keys',
    // One row per debounce or singleton key: the task holding it, and since when its run of
    // replacements goes (src/domain/task-keys.ts). A finished holder leaves the key free.
    sql: (s) => `
CREATE TABLE ${s}.task_keys (
  key text COLLATE "C" PRIMARY KEY,
  task_id text COLLATE "C" NOT NULL,
  since double precision NOT NULL
);
`,
  },
  {
    version: 15,
    name: 'events',
    // The engines' events, written with the commits of the changes they report. Read in (xid, seq)
    // order, each row's transaction id beside its sequence number, so that a reader's cursor never
    // passes over a row that commits late (src/repositories/postgres/events.ts). No CHECK on name:
    // a new event needs no migration. The primary key is the one index, and the readers' order.
    // event_tokens: one row per commit that wrote events, so that a commit tried again after its
    // reply was lost (it had landed) does not write its events twice.
    sql: (s) => `
CREATE TABLE ${s}.events (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  name text COLLATE "C" NOT NULL,
  payload json NOT NULL,
  engine_id text COLLATE "C" NOT NULL,
  workflow_id text COLLATE "C",
  task_id text COLLATE "C",
  at double precision NOT NULL,
  PRIMARY KEY (xid, seq)
);
CREATE TABLE ${s}.event_tokens (
  token text COLLATE "C" PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 16,
    name: 'serve order of fairness keys',
    // One row per fairness group that claims served (src/repositories/fair-order.ts): the sequence
    // of its last claim ('' is the group of tasks without a key); claims read the highest through
    // fair_marks_served. The claim indexes of unheld tasks of migration 9 now hold only tasks
    // without a key (those with one are in tasks_unheld_keyed, migration 11): a claim of tasks
    // without a key no longer reads past a backlog of keyed ones. Statistics of the two plan
    // expressions the claims filter on: without them the planner guesses 0.5 % of rows match each,
    // and over a deep queue sorts every unheld task instead of walking tasks_unheld. Version 15 is
    // another change.
    sql: (s) => `
CREATE TABLE ${s}.fair_marks (
  key text COLLATE "C" PRIMARY KEY,
  served bigint NOT NULL
);
CREATE INDEX fair_marks_served ON ${s}.fair_marks (served);
DROP INDEX ${s}.tasks_unheld;
DROP INDEX ${s}.tasks_unheld_agent;
CREATE INDEX tasks_unheld ON ${s}.tasks ((COALESCE((execution->>'rank')::float8, (execution->>'priority')::float8)) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object' AND (execution->>'concurrencyKey') IS NULL;
CREATE INDEX tasks_unheld_agent ON ${s}.tasks ((execution->>'agentKey'), (COALESCE((execution->>'rank')::float8, (execution->>'priority')::float8)) DESC, created_at, id)
  WHERE lease_owner IS NULL AND status IN ('PENDING', 'RUNNING') AND json_typeof(execution) = 'object' AND (execution->>'concurrencyKey') IS NULL;
CREATE STATISTICS ${s}.tasks_plan_kind ON (json_typeof(execution)) FROM ${s}.tasks;
CREATE STATISTICS ${s}.tasks_plan_key ON ((execution->>'concurrencyKey')) FROM ${s}.tasks;
`,
  },
  {
    version: 17,
    name: 'events as one row a commit',
    // The events of a commit in one row (src/repositories/postgres/events.ts): a JSON array of
    // { name, workflowId, taskId, at, payload } (engineId too where it is not the row's), its
    // length (count, for the retention) and its newest time (at); one row costs the server what
    // one event's row did. Each row of version 15 becomes a row of one event under the same
    // (xid, seq), so the cursors handed out before go on where they stood.
    sql: (s) => `
ALTER TABLE ${s}.events RENAME TO events_v15;
ALTER INDEX ${s}.events_pkey RENAME TO events_v15_pkey;
CREATE TABLE ${s}.events (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  seq bigint GENERATED ALWAYS AS IDENTITY,
  engine_id text COLLATE "C" NOT NULL,
  count integer NOT NULL,
  at double precision NOT NULL,
  events json NOT NULL,
  PRIMARY KEY (xid, seq)
);
INSERT INTO ${s}.events (xid, seq, engine_id, count, at, events) OVERRIDING SYSTEM VALUE
  SELECT xid, seq, engine_id, 1, at, json_build_array(json_build_object('name', name,
    'workflowId', workflow_id, 'taskId', task_id, 'at', at, 'payload', payload))
  FROM ${s}.events_v15;
DROP TABLE ${s}.events_v15;
`,
  },
  {
    version: 18,
    name: 'rate limits of agents defined in code',
    // The rate limits of agents without a stored config, as workers running them record them
    // (`Store.saveAgentRateLimits`): claims honour them as a config's.
    sql: (s) => `
CREATE TABLE ${s}.agent_rate_limits (
  agent_key text COLLATE "C" PRIMARY KEY,
  rate_limits json NOT NULL,
  updated_at double precision NOT NULL
);
`,
  },
  {
    version: 19,
    name: 'quotas of agent configs',
    // An agent config's token and cost quota ({ tokens?, costUsd? }; NULL: none): every engine on
    // the store applies it to its tasks (src/engine/budget-gate.ts).
    sql: (s) => `
ALTER TABLE ${s}.agent_configs ADD COLUMN quota json;
`,
  },
];

export const LATEST_POSTGRES_VERSION = postgresMigrations.reduce((max, m) => Math.max(max, m.version), 0);
