import { STATUSES_V1, TASK_STATUSES_V5 } from '../sql/migration-statuses.js';

export interface SqliteMigration {
  version: number;
  name: string;
  sql: string;
}

/** Every column of `tasks` as of version 4, in table order. */
const TASK_COLUMNS_V4 = [
  'seq',
  'id',
  'name',
  'description',
  'input_data',
  'output_data',
  'tags',
  'priority',
  'status',
  'attempts',
  'errors',
  'workflow_id',
  'agent_id',
  'idempotency_key',
  'metadata',
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
  'run_after',
  'execution',
  'lease_owner',
  'lease_expires_at',
].join(', ');

/**
 * The schema, one step per version, applied in order inside one `BEGIN IMMEDIATE` transaction at
 * open. Applied steps are recorded in `symphony_migrations`; never edit a released step, add one.
 * Times are epoch milliseconds of the engine's clock, stored as REAL so any JS number round-trips.
 */
export const sqliteMigrations: readonly SqliteMigration[] = [
  {
    version: 1,
    name: 'tasks, workflows, agent configs and completion records',
    sql: `
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT tasks_id_unique UNIQUE,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  input_data TEXT NOT NULL,
  output_data TEXT,
  tags TEXT NOT NULL,
  priority REAL NOT NULL,
  status TEXT NOT NULL CONSTRAINT tasks_status_check CHECK (status IN (${STATUSES_V1})),
  attempts INTEGER NOT NULL,
  errors TEXT NOT NULL,
  workflow_id TEXT,
  agent_id TEXT,
  idempotency_key TEXT,
  metadata TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL
) STRICT;
CREATE INDEX tasks_workflow_id ON tasks (workflow_id);
CREATE INDEX tasks_status ON tasks (status);
CREATE UNIQUE INDEX tasks_idempotency_key_unique ON tasks (idempotency_key);

CREATE TABLE workflows (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT workflows_id_unique UNIQUE,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL CONSTRAINT workflows_status_check CHECK (status IN (${STATUSES_V1})),
  paused INTEGER NOT NULL CONSTRAINT workflows_paused_check CHECK (paused IN (0, 1)),
  cancelled INTEGER NOT NULL CONSTRAINT workflows_cancelled_check CHECK (cancelled IN (0, 1)),
  metadata TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
) STRICT;

CREATE TABLE agent_configs (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT agent_configs_id_unique UNIQUE,
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  description TEXT NOT NULL,
  capabilities TEXT NOT NULL,
  max_concurrency INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
) STRICT;

CREATE TABLE task_completions (
  seq INTEGER PRIMARY KEY,
  task_id TEXT NOT NULL CONSTRAINT task_completions_task_id_unique UNIQUE,
  execution_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  completed_at REAL NOT NULL
) STRICT;
`,
  },
  {
    version: 2,
    name: 'execution plans, retry due times and leases on tasks',
    sql: `
ALTER TABLE tasks ADD COLUMN run_after REAL;
ALTER TABLE tasks ADD COLUMN execution TEXT;
ALTER TABLE tasks ADD COLUMN lease_owner TEXT;
ALTER TABLE tasks ADD COLUMN lease_expires_at REAL;
CREATE INDEX tasks_run_after ON tasks (run_after) WHERE run_after IS NOT NULL;
`,
  },
  {
    version: 3,
    name: 'workflow control commands',
    sql: `
CREATE TABLE workflow_commands (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT workflow_commands_id_unique UNIQUE,
  workflow_id TEXT NOT NULL,
  type TEXT NOT NULL CONSTRAINT workflow_commands_type_check CHECK (type IN ('PAUSE', 'RESUME', 'CANCEL')),
  created_at REAL NOT NULL
) STRICT;
`,
  },
  {
    version: 4,
    name: 'engine beats, command acknowledgements, task commands, tasks by (status, id)',
    sql: `
DROP INDEX tasks_status;
CREATE INDEX tasks_status_id ON tasks (status, id);

CREATE TABLE control_commands (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT control_commands_id_unique UNIQUE,
  workflow_id TEXT,
  task_id TEXT,
  type TEXT NOT NULL CONSTRAINT control_commands_type_check CHECK (type IN ('PAUSE', 'RESUME', 'CANCEL')),
  created_at REAL NOT NULL,
  CONSTRAINT control_commands_target_check CHECK (workflow_id IS NOT NULL OR task_id IS NOT NULL)
) STRICT;
INSERT INTO control_commands (seq, id, workflow_id, task_id, type, created_at)
  SELECT seq, id, workflow_id, NULL, type, created_at FROM workflow_commands;
DROP TABLE workflow_commands;

CREATE TABLE engine_beats (
  engine_id TEXT PRIMARY KEY,
  beat_at REAL NOT NULL,
  expires_at REAL NOT NULL,
  stopped INTEGER NOT NULL CONSTRAINT engine_beats_stopped_check CHECK (stopped IN (0, 1))
) STRICT;

CREATE TABLE command_acks (
  command_id TEXT NOT NULL,
  engine_id TEXT NOT NULL,
  applied INTEGER NOT NULL CONSTRAINT command_acks_applied_check CHECK (applied IN (0, 1)),
  error TEXT,
  acked_at REAL NOT NULL,
  PRIMARY KEY (command_id, engine_id)
) STRICT;
`,
  },
  {
    version: 5,
    name: 'SKIPPED task status and task graphs',
    // SQLite cannot change a CHECK constraint: the table is rebuilt (create, copy, drop, rename),
    // inside the migration's transaction, keeping every row's seq; the indexes are made again as
    // versions 1-4 left them. No table, view or trigger refers to tasks. Rows written before get
    // the JSON null as their graph, as a task without a graph is written today.
    sql: `
CREATE TABLE tasks_v5 (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT tasks_id_unique UNIQUE,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  input_data TEXT NOT NULL,
  output_data TEXT,
  tags TEXT NOT NULL,
  priority REAL NOT NULL,
  status TEXT NOT NULL CONSTRAINT tasks_status_check CHECK (status IN (${TASK_STATUSES_V5})),
  attempts INTEGER NOT NULL,
  errors TEXT NOT NULL,
  workflow_id TEXT,
  agent_id TEXT,
  idempotency_key TEXT,
  metadata TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  started_at REAL,
  finished_at REAL,
  run_after REAL,
  execution TEXT,
  lease_owner TEXT,
  lease_expires_at REAL,
  graph TEXT
) STRICT;
INSERT INTO tasks_v5 (${TASK_COLUMNS_V4}, graph)
  SELECT ${TASK_COLUMNS_V4}, 'null' FROM tasks ORDER BY seq;
DROP TABLE tasks;
ALTER TABLE tasks_v5 RENAME TO tasks;
CREATE INDEX tasks_workflow_id ON tasks (workflow_id);
CREATE UNIQUE INDEX tasks_idempotency_key_unique ON tasks (idempotency_key);
CREATE INDEX tasks_run_after ON tasks (run_after) WHERE run_after IS NOT NULL;
CREATE INDEX tasks_status_id ON tasks (status, id);
`,
  },
  {
    version: 6,
    name: 'signals',
    // Payloads are JSON text ('null' for none). A signal is taken once: taken_by and taken_at are
    // set together. Waits read a workflow's pending signals by seq (the partial index).
    sql: `
CREATE TABLE signals (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL CONSTRAINT signals_id_unique UNIQUE,
  workflow_id TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  sent_at REAL NOT NULL,
  taken_by TEXT,
  taken_at REAL,
  CONSTRAINT signals_taken_check CHECK ((taken_by IS NULL) = (taken_at IS NULL))
) STRICT;
CREATE INDEX signals_workflow_id_seq ON signals (workflow_id, seq);
CREATE INDEX signals_pending ON signals (workflow_id, seq) WHERE taken_by IS NULL;
`,
  },
  {
    version: 7,
    name: 'workflows handed to workers as a whole',
    // One row per submitted workflow (src/repositories/workflow-runs.ts): its plan (JSON text) and
    // the engine that coordinates it.
    sql: `
CREATE TABLE workflow_runs (
  workflow_id TEXT PRIMARY KEY,
  plan TEXT NOT NULL,
  coordinator TEXT,
  submitted_at REAL NOT NULL,
  ended_at REAL
) STRICT;
`,
  },
  {
    version: 8,
    name: 'cron schedules',
    // One row per schedule (src/schedules/schedule.ts), and one per occurrence it fired: the
    // primary key of schedule_firings is what fires an occurrence once.
    sql: `
CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  cron TEXT NOT NULL,
  timezone TEXT,
  template TEXT NOT NULL,
  catch_up TEXT NOT NULL CONSTRAINT schedules_catch_up_check CHECK (catch_up IN ('none', 'latest', 'all')),
  max_catch_up INTEGER NOT NULL CONSTRAINT schedules_max_catch_up_check CHECK (max_catch_up >= 1),
  grace_ms REAL NOT NULL,
  overlap TEXT NOT NULL CONSTRAINT schedules_overlap_check CHECK (overlap IN ('skip', 'allow')),
  paused INTEGER NOT NULL,
  next_run_at REAL,
  last_workflow_id TEXT,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
) STRICT;
CREATE INDEX schedules_due ON schedules (next_run_at, id) WHERE paused = 0 AND next_run_at IS NOT NULL;
CREATE TABLE schedule_firings (
  schedule_id TEXT NOT NULL,
  occurrence_at REAL NOT NULL,
  workflow_id TEXT NOT NULL,
  fired_by TEXT NOT NULL,
  fired_at REAL NOT NULL,
  PRIMARY KEY (schedule_id, occurrence_at)
) STRICT;
`,
  },
  {
    version: 9,
    name: 'circuit breakers',
    // An agent config's breaker options (JSON text; NULL: none), and the breaker states engines
    // share (src/repositories/breakers.ts): one row per agent config, the newest transition.
    sql: `
ALTER TABLE agent_configs ADD COLUMN circuit_breaker TEXT;
CREATE TABLE circuit_breakers (
  agent_id TEXT PRIMARY KEY,
  state TEXT NOT NULL CONSTRAINT circuit_breakers_state_check CHECK (state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
  opened_at REAL,
  failures INTEGER NOT NULL,
  changed_at REAL NOT NULL,
  changed_by TEXT NOT NULL
) STRICT;
`,
  },
  {
    version: 10,
    name: 'rate limits',
    // One row per token bucket (src/domain/rate-limit.ts): its balance at updated_at (ahead of now
    // while a retry-after blocks it) and the tokens the last operation granted. Agent configs keep
    // their rate limits as JSON text (NULL: none).
    sql: `
CREATE TABLE rate_buckets (
  key TEXT PRIMARY KEY,
  tokens REAL NOT NULL,
  updated_at REAL NOT NULL,
  granted REAL NOT NULL
) STRICT;
ALTER TABLE agent_configs ADD COLUMN rate_limits TEXT;
`,
  },
  {
    version: 11,
    name: 'debounce and singleton keys',
    // One row per debounce or singleton key: the task holding it, and since when its run of
    // replacements goes (src/domain/task-keys.ts). A finished holder leaves the key free.
    sql: `
CREATE TABLE task_keys (
  key TEXT PRIMARY KEY,
  task_id TEXT NOT NULL,
  since REAL NOT NULL
) STRICT;
`,
  },
  {
    version: 12,
    name: 'events',
    // The engines' events, written with the commits of the changes they report
    // (src/repositories/sqlite/events.ts): seq (the rowid) grows in commit order, since writers take
    // turns. No CHECK on name: a new event needs no migration. No index beyond the rowid: readers
    // scan forward from their cursor, and every index would cost each commit. event_tokens: one row
    // per commit that wrote events, so that a batch sent again writes its events once.
    sql: `
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  engine_id TEXT NOT NULL,
  workflow_id TEXT,
  task_id TEXT,
  at REAL NOT NULL
) STRICT;
CREATE TABLE event_tokens (
  token TEXT PRIMARY KEY,
  created_at REAL NOT NULL DEFAULT (unixepoch('subsec') * 1000)
) STRICT;
`,
  },
  {
    version: 13,
    name: 'serve order of fairness keys',
    // One row per fairness group that claims served (src/repositories/fair-order.ts): the sequence
    // of its last claim ('' is the group of tasks without a key). Version 12 is another change.
    sql: `
CREATE TABLE fair_marks (
  key TEXT PRIMARY KEY,
  served INTEGER NOT NULL
) STRICT;
CREATE INDEX fair_marks_served ON fair_marks (served);
`,
  },
  {
    version: 14,
    name: 'events as one row a commit',
    // The events of a commit in one row (src/repositories/sqlite/events.ts): a JSON array of
    // { name, workflowId, taskId, at, payload } (engineId too where it is not the row's), its
    // length (count, for the retention) and its newest time (at). Each row of version 12 becomes
    // a row of one event under the same seq, so the cursors handed out before go on where they
    // stood.
    sql: `
ALTER TABLE events RENAME TO events_v12;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY,
  engine_id TEXT NOT NULL,
  count INTEGER NOT NULL,
  at REAL NOT NULL,
  events TEXT NOT NULL
) STRICT;
INSERT INTO events (seq, engine_id, count, at, events)
  SELECT seq, engine_id, 1, at, json_array(json_object('name', name, 'workflowId', workflow_id,
    'taskId', task_id, 'at', at, 'payload', json(payload)))
  FROM events_v12 ORDER BY seq;
DROP TABLE events_v12;
`,
  },
  {
    version: 15,
    name: 'rate limits of agents defined in code',
    // The rate limits of agents without a stored config, as workers running them record them
    // (`Store.saveAgentRateLimits`): claims honour them as a config's.
    sql: `
CREATE TABLE agent_rate_limits (
  agent_key TEXT PRIMARY KEY,
  rate_limits TEXT NOT NULL,
  updated_at REAL NOT NULL
) STRICT;
`,
  },
  {
    version: 16,
    name: 'quotas of agent configs',
    // An agent config's token and cost quota as JSON text ({ tokens?, costUsd? }; NULL: none): every
    // engine on the store applies it to its tasks (src/engine/budget-gate.ts).
    sql: `
ALTER TABLE agent_configs ADD COLUMN quota TEXT;
`,
  },
];

export const LATEST_SQLITE_VERSION = sqliteMigrations.reduce((max, m) => Math.max(max, m.version), 0);
